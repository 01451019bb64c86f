package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNetworkDefaultsValid(t *testing.T) {
	if err := DefaultNetwork().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestNetworkValidateNamesFields(t *testing.T) {
	for _, tc := range []struct {
		edit func(*Network)
		want string
	}{
		{func(n *Network) { n.WAN.Method = "pppoe" }, "network.wan.method"},
		{func(n *Network) { n.WAN.Method = MethodStatic; n.WAN.Address = "" }, "network.wan.address"},
		{func(n *Network) {
			n.WAN.Method = MethodStatic
			n.WAN.Address = "203.0.113.2/24"
			n.WAN.Gateway = "198.51.100.1"
		}, "network.wan.gateway"},
		{func(n *Network) { n.Modem.PIN = "12a4" }, "network.modem.pin"},
		{func(n *Network) { n.Modem.APN = `in"ternet` }, "network.modem.apn"},
		{func(n *Network) { n.Modem.Method = "qmi" }, "network.modem.method"},
		{func(n *Network) { n.Uplinks = []string{"wan", "wan"} }, "network.uplinks[1]"},
		{func(n *Network) { n.Uplinks = []string{"wifi"} }, "network.uplinks[0]"},
		{func(n *Network) { n.LAN[0].Address = "192.168.1.1" }, "network.lan[0].address"},
		{func(n *Network) { n.Health.Targets = []string{"icmp:example.com"} }, "network.health.targets[0]"},
		{func(n *Network) { n.Health.Targets = []string{"tcp:192.0.2.1"} }, "network.health.targets[0]"},
		{func(n *Network) { n.Health.FailAfterSec = 1 }, "network.health.fail_after_sec"},
		{func(n *Network) { n.Firewall.OpenUDP = []string{"20000-10000"} }, "network.firewall.open_udp[0]"},
		{func(n *Network) { n.Firewall.OpenTCP = []string{"0"} }, "network.firewall.open_tcp[0]"},
		{func(n *Network) { n.Interfaces = map[string]string{"wan": "eth0/1"} }, "network.interfaces.wan"},
		{func(n *Network) { n.Modem.ResetAfterSec = 5 }, "network.modem.reset_after_sec"},
		{func(n *Network) { n.Modem.Slot = "mPCIe 1" }, "network.modem.slot"},
		{func(n *Network) { n.Modem.Slot = "mpcie3" }, "network.modem.slot"},
	} {
		n := DefaultNetwork()
		tc.edit(&n)
		err := n.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want error naming %s, got %v", tc.want, err)
		}
	}
}

func TestNetworkValidConfigs(t *testing.T) {
	n := DefaultNetwork()
	n.WAN = WAN{Enabled: true, Method: MethodStatic, Address: "203.0.113.2/24", Gateway: "203.0.113.1", DNS: []string{"203.0.113.53"}, MTU: 1492}
	n.Modem = Modem{Enabled: true, APN: "internet", PIN: "1234", Method: MethodModem, ResetAfterSec: 120, Slot: "mpcie2"}
	n.Uplinks = []string{"modem"}
	n.Health.Targets = []string{"icmp:192.0.2.1", "tcp:192.0.2.2:443"}
	n.Firewall.OpenUDP = []string{"1194", "10000-20000"}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParsePortRange(t *testing.T) {
	lo, hi, err := ParsePortRange("10000-20000")
	if err != nil || lo != 10000 || hi != 20000 {
		t.Fatal(lo, hi, err)
	}
	for _, bad := range []string{"", "x", "70000", "5-", "-5", "3-2"} {
		if _, _, err := ParsePortRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"5060", "10000-20000", "0", "1-65535", "a-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParsePortRange(s)
		if err == nil && (lo == 0 || hi < lo) {
			t.Fatalf("%q -> %d-%d", s, lo, hi)
		}
	})
}

func FuzzValidHealthTarget(f *testing.F) {
	for _, s := range []string{"icmp:1.2.3.4", "tcp:1.2.3.4:443", "udp:x", "tcp:[::1]:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = ValidHealthTarget(s)
	})
}

func TestNetworkVPNForwardingValidated(t *testing.T) {
	ok := DefaultNetwork()
	ok.Firewall.VPNToLAN = []string{"192.168.1.0/24", "192.168.1.20/32"}
	ok.Firewall.LANToVPN = []string{"10.8.0.0/24"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		vpnToLAN, lanToVPN []string
		want               string
	}{
		{[]string{"10.9.0.0/24"}, nil, "network.firewall.vpn_to_lan[0]: 10.9.0.0/24 is not inside a LAN port's subnet"},
		{[]string{"0.0.0.0/0"}, nil, "network.firewall.vpn_to_lan[0]: \"0.0.0.0/0\" is wider than a /8"},
		{[]string{"192.168.1.5/24"}, nil, "host bits set"},
		{nil, []string{"192.168.0.0/16"}, "network.firewall.lan_to_vpn[0]: 192.168.0.0/16 overlaps a LAN subnet"},
		{nil, []string{"tun0"}, "network.firewall.lan_to_vpn[0]: \"tun0\" is not an IPv4 subnet"},
		{nil, []string{"fd00::/64"}, "is not an IPv4 subnet"},
	} {
		n := DefaultNetwork()
		n.Firewall.VPNToLAN, n.Firewall.LANToVPN = c.vpnToLAN, c.lanToVPN
		if err := n.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: %v, want %q", c.vpnToLAN, c.lanToVPN, err, c.want)
		}
	}
}

func TestLANDHCPPoolAndValidation(t *testing.T) {
	port := netip.MustParsePrefix("192.168.1.1/24")
	if f, l := (LANDHCP{}).Pool(port); f.String() != "192.168.1.100" || l.String() != "192.168.1.199" {
		t.Errorf("default pool of a /24: %s-%s", f, l)
	}
	if f, l := (LANDHCP{}).Pool(netip.MustParsePrefix("10.0.0.1/29")); f.String() != "10.0.0.1" || l.String() != "10.0.0.6" {
		t.Errorf("default pool of a /29: %s-%s", f, l)
	}
	for _, c := range []struct {
		d    LANDHCP
		addr string
		want string
	}{
		{LANDHCP{First: "192.168.1.20", Last: "192.168.1.50", LeaseSec: 3600}, "", ""},
		{LANDHCP{Off: true, First: "garbage"}, "", ""}, // off: not checked
		{LANDHCP{First: "192.168.2.20"}, "", "network.lan[0].dhcp.first: \"192.168.2.20\" is not a host address inside 192.168.1.0/24"},
		{LANDHCP{Last: "192.168.1.255"}, "", "network.lan[0].dhcp.last"},
		{LANDHCP{First: "192.168.1.50", Last: "192.168.1.20"}, "", "192.168.1.20 is before the first address 192.168.1.50"},
		{LANDHCP{LeaseSec: 30}, "", "network.lan[0].dhcp.lease_sec: 30 is outside"},
		{LANDHCP{}, "192.168.1.1/31", "network.lan[0].dhcp: subnet 192.168.1.0/31 has no room"},
	} {
		n := DefaultNetwork()
		n.LAN[0].DHCP = c.d
		if c.addr != "" {
			n.LAN[0].Address = c.addr
		}
		err := n.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.d, err, c.want)
		}
	}
}
