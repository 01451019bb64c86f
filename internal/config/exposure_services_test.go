package config

import (
	"strings"
	"testing"
)

// TestServiceExposureRules: LAN-only services other than the web UI are
// kept from the uplinks by the same rules: the AMI (SMS with a password),
// the LAN's DNS and DHCP, and a LAN port put on the WAN's or the modem's
// interface. Each case failed (was accepted) before these rules.
func TestServiceExposureRules(t *testing.T) {
	ami := func(c *Config) { c.Gateway.GSM.AMI.Enabled = true }
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		field string // "" = accepted
	}{
		{"AMI on its default interfaces", func(c *Config) { ami(c) }, ""},
		{"AMI on every interface", func(c *Config) { ami(c); c.Gateway.GSM.AMI.Interfaces = []string{"*"} }, "gateway.gsm.ami.interfaces[0]"},
		{"AMI on the modem", func(c *Config) { ami(c); c.Gateway.GSM.AMI.Interfaces = []string{"lan*", "wwan*"} }, "gateway.gsm.ami.interfaces[1]"},
		{"AMI port opened", func(c *Config) { ami(c); c.Network.Firewall.OpenTCP = []string{"5000-5100"} }, "network.firewall.open_tcp[0]"},
		{"AMI on its own port opened", func(c *Config) {
			ami(c)
			c.Gateway.GSM.AMI.Port = 6038
			c.Network.Firewall.OpenTCP = []string{"5061", "6038"}
		}, "network.firewall.open_tcp[1]"},
		{"AMI off, port 5038 opened for something else", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"5038"} }, ""},
		{"open_udp DNS", func(c *Config) { c.Network.Firewall.OpenUDP = []string{"5060", "53"} }, "network.firewall.open_udp[1]"},
		{"open_udp all", func(c *Config) { c.Network.Firewall.OpenUDP = []string{"1-65535"} }, "network.firewall.open_udp[0]"},
		{"open_udp DHCP server", func(c *Config) { c.Network.Firewall.OpenUDP = []string{"60-70"} }, "network.firewall.open_udp[0]"},
		{"open_udp SIP and media", func(c *Config) { c.Network.Firewall.OpenUDP = []string{"1194", "5060", "10000-20000"} }, ""},
		// the forwarder answers over TCP too (c0275a3): seventh review
		{"open_tcp DNS", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"5061", "53"} }, "network.firewall.open_tcp[1]"},
		{"open_tcp range over DNS", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"20-60"} }, "network.firewall.open_tcp[0]"},
		{"open_tcp SIP-TLS and portal", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"5061", "8443"} }, ""},
		{"LAN port on the WAN's interface", func(c *Config) {
			c.Network.WAN.Interface = "eth0"
			c.Network.LAN = append(c.Network.LAN, LANPort{Interface: "eth0", Address: "192.168.7.1/24"})
		}, "network.lan[1]"},
		{"LAN role mapped to the WAN's interface", func(c *Config) {
			c.Network.Interfaces = map[string]string{"wan": "enp1s0", "lan1": "enp1s0"}
		}, "network.lan[0]"},
		{"LAN port on the modem's interface", func(c *Config) {
			c.Network.Modem.Interface = "wwan0"
			c.Network.LAN[0].Interface = "wwan0"
		}, "network.lan[0]"},
		{"LAN port on its own interface", func(c *Config) {
			c.Network.Interfaces = map[string]string{"wan": "enp1s0", "lan1": "enp2s0"}
		}, ""},
	} {
		cfg := Default()
		c.edit(cfg)
		err := cfg.Exposures()
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field+": ")):
			t.Errorf("%s: want an error on %s, got %v", c.name, c.field, err)
		}
		cfg.Web.ExposeManagement = true
		if err := cfg.Exposures(); err != nil {
			t.Errorf("%s: refused although web.expose_management is set: %v", c.name, err)
		}
	}
}
