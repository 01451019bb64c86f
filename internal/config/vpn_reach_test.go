package config

import (
	"strings"
	"testing"
)

// A VPN device named outside the firewall's or the web UI's interface
// patterns connects and then locks every remote admin out; the config
// refuses such a change (web's changeChecks), naming both settings.
// Before, "vpn0" was accepted.
func TestVPNInterfaceReachable(t *testing.T) {
	c := Default()
	if err := c.VPNLockout(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c.VPN.Interface = "vpn0"
	err := c.VPNLockout()
	if err == nil || !strings.Contains(err.Error(), "vpn.interface") || !strings.Contains(err.Error(), "network.firewall.vpn_interfaces") || !strings.Contains(err.Error(), "web.interfaces") {
		t.Fatalf("vpn0 against tun*: %v", err)
	}
	c.Network.Firewall.VPNInterfaces = append(c.Network.Firewall.VPNInterfaces, "vpn0")
	c.Web.Interfaces = append(append([]string{}, DefaultWebInterfaces...), "vpn*")
	if err := c.VPNLockout(); err != nil {
		t.Errorf("vpn0 listed in both: %v", err)
	}
	c = Default()
	c.VPN.Interface, c.VPN.Enabled = "vpn0", false
	if err := c.VPNLockout(); err != nil {
		t.Errorf("a switched-off VPN: %v", err)
	}
	c = Default()
	c.VPN.Interface = "tun7"
	if err := c.VPNLockout(); err != nil {
		t.Errorf("tun7: %v", err)
	}
}
