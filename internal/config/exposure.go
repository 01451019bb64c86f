package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
)

// Settings that would put management (web UI, API, logs) within reach of
// the uplinks are refused unless web.expose_management is set; web asks
// for a separate confirmation before it sets that flag, and warns on every
// page while it is on. A restore or a careless edit can then no longer
// open the box to the internet silently.
//
// These rules are not part of Validate: a box updated from a firmware
// without them must still load its config and stay online. web applies
// them to every change it stores (new exposures are refused) and warns
// about old ones.

// uplinkProbeNames are kernel names uplinks have on the boards and modems
// edgebox runs on; patterns are tested against them and the configured
// uplink interfaces.
var uplinkProbeNames = []string{"wan", "wan0", "wan1", "eth0", "eth1", "eth2", "eth3", "enp1s0", "enp2s0", "enp3s0", "enp4s0",
	"usb0", "usb1", "wwan0", "wwan1", "wwp0s20u4", "ppp0", "ppp1", "lte0", "modem0", "wlan0", "cdc0"}

// managementPorts are the web ports that must stay in firewall.management_tcp.
var managementPorts = []uint16{80, 443}

// uplinkNames are the interface names an uplink may have on this box.
func (c *Config) uplinkNames() []string {
	lan := map[string]bool{}
	for _, p := range c.Network.LAN {
		if p.Interface != "" {
			lan[p.Interface] = true
		}
		if n := c.Network.Interfaces[p.Role]; n != "" {
			lan[n] = true
		}
	}
	var out []string
	add := func(n string) {
		if n != "" && !lan[n] {
			out = append(out, n)
		}
	}
	for _, n := range uplinkProbeNames {
		add(n)
	}
	add(c.Network.WAN.Interface)
	add(c.Network.Modem.Interface)
	role := c.Network.WAN.Role
	if role == "" {
		role = "wan"
	}
	add(c.Network.Interfaces[role])
	return out
}

// Exposures lists the settings that expose management on an uplink, one
// per line naming its field; nil when there are none or when
// web.expose_management allows them.
func (c *Config) Exposures() error {
	if c.Web.ExposeManagement {
		return nil
	}
	const hint = "this would expose management to the internet; set web.expose_management (confirmed separately) only if you really mean it"
	var errs []error
	uplinks := c.uplinkNames()
	for i, pat := range c.Web.Interfaces {
		for _, n := range uplinks {
			if ok, _ := path.Match(pat, n); ok {
				errs = append(errs, fmt.Errorf("web.interfaces[%d]: %q matches the uplink %s: %s", i, pat, n, hint))
				break
			}
		}
	}
	for i, pat := range c.Network.Firewall.VPNInterfaces {
		for _, n := range uplinks {
			if n == pat || strings.HasSuffix(pat, "*") && strings.HasPrefix(n, strings.TrimSuffix(pat, "*")) {
				errs = append(errs, fmt.Errorf("network.firewall.vpn_interfaces[%d]: %q matches the uplink %s, which would then count as VPN: %s", i, pat, n, hint))
				break
			}
		}
	}
	for _, port := range managementPorts {
		if !portListed(c.Network.Firewall.ManagementTCP, port) {
			errs = append(errs, fmt.Errorf("network.firewall.management_tcp: port %d is missing, so the uplinks would no longer be kept from the web UI: %s", port, hint))
		}
	}
	mgmt := append([]string{"80", "443"}, c.Network.Firewall.ManagementTCP...)
	for i, r := range c.Network.Firewall.OpenTCP {
		lo, hi, err := ParsePortRange(r)
		if err != nil {
			continue // reported by the network section
		}
		for _, m := range mgmt {
			mlo, mhi, err := ParsePortRange(m)
			if err == nil && lo <= mhi && mlo <= hi {
				errs = append(errs, fmt.Errorf("network.firewall.open_tcp[%d]: %q opens the management port %s on the uplinks: %s", i, r, m, hint))
				break
			}
		}
	}
	errs = append(errs, c.serviceExposures(uplinks, hint)...)
	if t, err := ParseSyslog(c.System.Syslog); err == nil && t.Address != "" {
		if host, _, err := net.SplitHostPort(t.Address); err == nil && !c.localLogTarget(host) {
			errs = append(errs, fmt.Errorf("system.syslog: %q is not an address on the LAN, the VPN or a private network; logs travel unencrypted: %s", c.System.Syslog, hint))
		}
	}
	return errors.Join(errs...)
}

// localLogTarget reports whether host is an address logs may go to
// without crossing the internet: loopback, a LAN subnet, or a private
// range (the VPN's). A name could resolve anywhere, so names are not.
func (c *Config) localLogTarget(host string) bool {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() {
		return true
	}
	for _, p := range c.Network.LAN {
		if pf, err := netip.ParsePrefix(p.Address); err == nil && pf.Masked().Contains(a) {
			return true
		}
	}
	return false
}

func portListed(list []string, port uint16) bool {
	for _, r := range list {
		if lo, hi, err := ParsePortRange(r); err == nil && lo <= port && port <= hi {
			return true
		}
	}
	return false
}
