package gateway

import (
	"net"
	"net/netip"
	"testing"
)

// TestRouteSourceWithoutNetDial: the source toward an address is what a
// net.Dial'd UDP socket gets, for IPv4 and IPv6 loopback and a name, an
// unreachable network is an error as before, and the address path no
// longer costs net.Dial's allocations (it runs for every INVITE and
// every call's media address).
func TestRouteSourceWithoutNetDial(t *testing.T) {
	viaDial := func(addr string) (netip.Addr, error) {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return netip.Addr{}, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
	}
	addrs := []string{"127.0.0.1:5060", "127.0.0.9:5070", "localhost:5060", "[::ffff:127.0.0.1]:5060"}
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		c.Close()
		addrs = append(addrs, "[::1]:5060")
	}
	for _, a := range addrs {
		want, err := viaDial(a)
		if err != nil {
			t.Fatalf("%s: net.Dial: %v", a, err)
		}
		got, err := routeSource(a)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", a, got, err, want)
		}
	}
	// 240.0.0.0/4 has no route unless someone made one
	if _, derr := viaDial("240.0.0.1:5060"); derr != nil {
		if a, err := routeSource("240.0.0.1:5060"); err == nil {
			t.Errorf("no route: %v without an error (net.Dial said %v)", a, derr)
		}
	}
	if n := testing.AllocsPerRun(50, func() { routeSource("127.0.0.1:5060") }); n > 3 {
		t.Errorf("%.0f allocations per look-up, want at most 3 (net.Dial took 15)", n)
	}
}
