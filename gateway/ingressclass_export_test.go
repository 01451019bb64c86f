package gateway

import "net/netip"

// SetInsideSource replaces the route lookup that says whether a source is
// inside (LAN, VPN); restore puts it back. Tests that use it are not
// parallel.
func SetInsideSource(f func(netip.Addr) bool) (restore func()) {
	old := insideSource
	insideSource = f
	return func() { insideSource = old }
}
