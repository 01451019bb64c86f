package config

import (
	"fmt"
	"path"
	"strings"
)

// VPNLockout reports a tunnel the admins could not use: remote admins
// reach the box only through it, and the firewall opens the web UI, API
// and SSH only on interfaces network.firewall.vpn_interfaces names, and
// the web UI answers only on web.interfaces. A vpn.interface outside
// either (a renamed "vpn0" against the default "tun*") connects, and then
// every admin is locked out until someone comes to the box. It is checked
// on a change, not in Validate: a stored config must always load.
func (c *Config) VPNLockout() error {
	if !c.VPN.Enabled || !validIfName(c.VPN.Interface) {
		return nil
	}
	n := c.VPN.Interface
	var errs []string
	fw := c.Network.Firewall.VPNInterfaces
	inFW := false
	for _, pat := range fw {
		if n == pat || strings.HasSuffix(pat, "*") && strings.HasPrefix(n, strings.TrimSuffix(pat, "*")) {
			inFW = true
		}
	}
	if !inFW {
		errs = append(errs, fmt.Sprintf("network.firewall.vpn_interfaces (%s)", strings.Join(fw, ", ")))
	}
	inWeb := false
	web := c.Web.AllowedInterfaces()
	for _, pat := range web {
		if ok, _ := path.Match(pat, n); ok {
			inWeb = true
		}
	}
	if !inWeb {
		errs = append(errs, fmt.Sprintf("web.interfaces (%s)", strings.Join(web, ", ")))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("vpn.interface: %q is not in %s, so remote admins could not reach the web UI, API or SSH through the tunnel: name it like tun0, or add it there", n, strings.Join(errs, " nor in "))
}
