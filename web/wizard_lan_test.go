package web

import (
	"strings"
	"testing"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// The LAN step ticked "ok" from the port's address alone, while no DHCP
// server answered on it (netctl's status did not say): every device on
// the LAN went without an address under a green tick.
func TestLANCheckFailsWithoutDHCPServer(t *testing.T) {
	lan := netapi.LANStatus{Role: "lan1", Interface: "eth0", Address: "192.168.1.1/24", Carrier: true}
	serving := lan
	serving.DHCP = "serving"
	down := lan
	down.DHCP, down.DHCPError = "not running", "LAN DHCP on eth0: cannot bind to port 67: address already in use"
	cfg := &config.Config{}
	if c := checkIn("en", Status{Network: &netapi.Status{LAN: []netapi.LANStatus{serving}}}, cfg, "lan"); c.State != "ok" {
		t.Errorf("serving: %+v", c)
	}
	c := checkIn("de", Status{Network: &netapi.Status{LAN: []netapi.LANStatus{down}}}, cfg, "lan")
	if c.State != "fail" || !strings.Contains(c.Message, "DHCP-Server läuft nicht") || !strings.Contains(c.Message, "port 67") {
		t.Errorf("no DHCP server: %+v", c)
	}
}
