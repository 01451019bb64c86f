package gateway

import (
	"net/netip"
	"testing"

	"edgebox/internal/config"
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

// TestSec7ConfiguredLANPortIsInside: a LAN port the config names itself
// (network.lan[].interface, say a PCIe NIC called enp9s0) was not lan*,
// br-lan* nor a board role, so its hosts (the portal server, a SIP
// client) shared the internet's connection budget and were refused with
// it when many internet sources filled it (sixth review, left). Now the
// config's LAN ports are inside too, and only while the config names them.
func TestSec7ConfiguredLANPortIsInside(t *testing.T) {
	t.Cleanup(func() { configLAN.Store(nil) })
	if insideInterface("enp9s0") {
		t.Fatal("enp9s0 inside before any config names it")
	}
	cfg := &config.Config{}
	cfg.Network.LAN = []config.LANPort{{Role: "lan1", Interface: "enp9s0", Address: "192.168.7.1/24"}}
	noteConfigLAN(cfg)
	if !insideInterface("enp9s0") {
		t.Error("the LAN port the config names (enp9s0) is not inside: its hosts share the internet's budget")
	}
	if insideInterface("wwan0") || insideInterface("enp10s0") {
		t.Error("an interface the config does not name as LAN is inside")
	}
	noteConfigLAN(&config.Config{})
	if insideInterface("enp9s0") {
		t.Error("enp9s0 still inside after the config stopped naming it")
	}
}
