package config

import (
	"strings"
	"testing"
)

func TestExposureRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		field string // "" = accepted
	}{
		{"defaults", func(*Config) {}, ""},
		{"web on every interface", func(c *Config) { c.Web.Interfaces = []string{"*"} }, "web.interfaces[0]"},
		{"web on eth*", func(c *Config) { c.Web.Interfaces = []string{"lan*", "eth*"} }, "web.interfaces[1]"},
		{"web on the configured WAN", func(c *Config) { c.Network.WAN.Interface = "enx0011"; c.Web.Interfaces = []string{"enx*"} }, "web.interfaces[0]"},
		{"web on a port configured as LAN", func(c *Config) { c.Network.LAN[0].Interface = "eth1"; c.Web.Interfaces = []string{"eth1", "tun*"} }, ""},
		{"vpn_interfaces matching the modem", func(c *Config) { c.Network.Firewall.VPNInterfaces = []string{"tun*", "wwan*"} }, "network.firewall.vpn_interfaces[1]"},
		{"management_tcp empty", func(c *Config) { c.Network.Firewall.ManagementTCP = []string{} }, "network.firewall.management_tcp"},
		{"management_tcp as one range", func(c *Config) { c.Network.Firewall.ManagementTCP = []string{"1-1024"} }, ""},
		{"open_tcp all", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"1-65535"} }, "network.firewall.open_tcp[0]"},
		{"open_tcp ssh", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"5061", "20-30"} }, "network.firewall.open_tcp[1]"},
		{"open_tcp portal", func(c *Config) { c.Network.Firewall.OpenTCP = []string{"8443"} }, ""},
		{"syslog by name", func(c *Config) { c.System.Syslog = "logs.example.net:514" }, "system.syslog"},
		{"syslog on the internet", func(c *Config) { c.System.Syslog = "203.0.113.9:514" }, "system.syslog"},
		{"syslog on the VPN", func(c *Config) { c.System.Syslog = "10.8.0.1:514" }, ""},
		{"syslog on the LAN", func(c *Config) { c.System.Syslog = "192.168.1.20:514" }, ""},
		{"everything, confirmed", func(c *Config) {
			c.Web.ExposeManagement = true
			c.Web.Interfaces = []string{"*"}
			c.Network.Firewall.OpenTCP = []string{"443"}
			c.System.Syslog = "203.0.113.9:514"
		}, ""},
	} {
		cfg := Default()
		c.edit(cfg)
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: exposure must not fail Validate (old boxes must load their config): %v", c.name, err)
		}
		err := cfg.Exposures()
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field+": ")):
			t.Errorf("%s: want an error on %s, got %v", c.name, c.field, err)
		}
	}
}
