package firewall

import (
	"slices"
	"testing"

	"edgebox/internal/config"
)

func TestBootPlanFor(t *testing.T) {
	n := config.DefaultNetwork()
	n.LAN = append(n.LAN, config.LANPort{Role: "lan2", Address: "192.168.2.1/24"},
		config.LANPort{Interface: "br9", Address: "192.168.3.1/24"},
		config.LANPort{Role: "lan3", Address: "192.168.4.1/24"}) // no such NIC on this board
	n.Interfaces = map[string]string{"lan2": "eth7"}
	p := bootPlanFor(n, map[string]string{"wan": "eth0", "lan1": "eth1", "lan2": "eth2"})
	if want := []string{"eth1", "eth7", "br9"}; !slices.Equal(p.LAN, want) {
		t.Errorf("LAN %v, want %v (explicit, then network.interfaces, then the board; unknown left out)", p.LAN, want)
	}
	if slices.Contains(p.LAN, "eth0") {
		t.Error("the WAN is in the boot table's LAN list")
	}
	if want := []PortRange{{22, 22}, {80, 80}, {443, 443}}; !slices.Equal(p.Management, want) {
		t.Errorf("management %v, want %v", p.Management, want)
	}
	n.Firewall.ManagementTCP = nil
	if p := bootPlanFor(n, nil); !slices.Equal(p.Management, []PortRange{{80, 80}, {443, 443}}) {
		t.Errorf("empty management list: %v, want the web ports", p.Management)
	}
}
