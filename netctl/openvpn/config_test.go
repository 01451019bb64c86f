package openvpn

import (
	"strings"
	"testing"

	"edgebox/internal/config"
)

// The vpn section of config.json, which netctl hands to the Manager.
func TestConfigSection(t *testing.T) {
	d := config.DefaultVPN()
	if !d.Enabled || d.Interface != "tun0" || d.Validate() != nil {
		t.Fatalf("default vpn section: %+v, %v", d, d.Validate())
	}
	for _, bad := range []string{"", "0vpn", "vpn 0", "averyveryverylongname", "vpn/0", "../x"} {
		err := config.VPN{Enabled: true, Interface: bad}.Validate()
		if err == nil || !strings.Contains(err.Error(), "vpn.interface") {
			t.Errorf("interface %q: err = %v", bad, err)
		}
	}
	c, err := config.Parse([]byte(`{"version":1,"vpn":{"enabled":false,"interface":"tun7"}}`))
	if err != nil || c.VPN.Enabled || c.VPN.Interface != "tun7" {
		t.Fatalf("parse: %+v, %v", c, err)
	}
	if _, err := New(Options{Interface: "averyveryverylongname", ProfileDir: t.TempDir(), RunDir: t.TempDir()}); err == nil {
		t.Error("New accepted an interface name longer than 15")
	}
}
