package gateway

import (
	"net/netip"
	"testing"
)

// The classes the connection budgets go by: loopback, LAN and VPN names
// are inside; uplinks (wired WAN, the modem, PPP) are not.
func TestInsideInterfaceNames(t *testing.T) {
	for name, want := range map[string]bool{
		"lo": true, "lan0": true, "br-lan": true, "tun0": true, "tap1": true,
		"wwan0": false, "ppp0": false, "wan": false, "usb0": false,
	} {
		if got := insideInterface(name); got != want {
			t.Errorf("insideInterface(%q) = %v, want %v", name, got, want)
		}
	}
	if !routedInside(netip.MustParseAddr("127.0.0.9")) || !routedInside(netip.MustParseAddr("::1")) {
		t.Error("loopback sources are not inside")
	}
}
