package config

import (
	"fmt"
	"path"
)

// More exposure rules of the same kind as Exposures' own: services that
// are for the LAN and the VPN only besides the web UI. Each would put
// something an attacker on the internet must not reach within reach of
// the uplinks:
//   - the GSM bridge's AMI (TCP 5038) sends SMS with a password only: a
//     pattern in gateway.gsm.ami.interfaces that matches an uplink, or an
//     open_tcp range over its port;
//   - the LAN's DNS forwarder (UDP and TCP 53) and DHCP server (UDP 67):
//     an open_udp or open_tcp range over them turns the box into an open
//     resolver and amplifier for the internet (the weak host model
//     delivers packets for the LAN address that come in on an uplink);
//   - a LAN port on the interface of the WAN or the modem: netctl trusts
//     LAN ports and serves DHCP and DNS on them.

// lanOnlyUDP and lanOnlyTCP are the ports of the LAN's own services
// (DNS answers over TCP too since c0275a3; the seventh review added it
// here).
var (
	lanOnlyUDP = []uint16{53, 67}
	lanOnlyTCP = []uint16{53}
)

// serviceExposures lists the service settings that expose a LAN-only
// service on an uplink; hint says what to do.
func (c *Config) serviceExposures(uplinks []string, hint string) []error {
	var errs []error
	ami := c.Gateway.GSM.AMI
	if ami.Enabled {
		for i, pat := range ami.Interfaces {
			for _, n := range uplinks {
				if ok, _ := path.Match(pat, n); ok {
					errs = append(errs, fmt.Errorf("gateway.gsm.ami.interfaces[%d]: %q matches the uplink %s, so the internet could send SMS through the AMI: %s", i, pat, n, hint))
					break
				}
			}
		}
		port := uint16(DefaultAMIPort)
		if ami.Port > 0 && ami.Port < 1<<16 {
			port = uint16(ami.Port)
		}
		for i, r := range c.Network.Firewall.OpenTCP {
			if lo, hi, err := ParsePortRange(r); err == nil && lo <= port && port <= hi {
				errs = append(errs, fmt.Errorf("network.firewall.open_tcp[%d]: %q opens the AMI port %d on the uplinks: %s", i, r, port, hint))
			}
		}
	}
	for _, o := range []struct {
		field, proto string
		ranges       []string
		ports        []uint16
	}{{"open_udp", "UDP", c.Network.Firewall.OpenUDP, lanOnlyUDP}, {"open_tcp", "TCP", c.Network.Firewall.OpenTCP, lanOnlyTCP}} {
		for i, r := range o.ranges {
			lo, hi, err := ParsePortRange(r)
			if err != nil {
				continue // reported by the network section
			}
			for _, p := range o.ports {
				if lo <= p && p <= hi {
					errs = append(errs, fmt.Errorf("network.firewall.%s[%d]: %q opens %s port %d (the LAN's DNS and DHCP) on the uplinks, which makes the box an open resolver for the internet: %s", o.field, i, r, o.proto, p, hint))
					break
				}
			}
		}
	}
	wanRole := c.Network.WAN.Role
	if wanRole == "" {
		wanRole = "wan"
	}
	upl := map[string]string{}
	for what, n := range map[string]string{
		"network.wan.interface": c.Network.WAN.Interface, "network.interfaces." + wanRole: c.Network.Interfaces[wanRole],
		"network.modem.interface": c.Network.Modem.Interface,
	} {
		if n != "" {
			upl[n] = what
		}
	}
	for i, p := range c.Network.LAN {
		name := p.Interface
		if name == "" {
			name = c.Network.Interfaces[p.Role]
		}
		if what, ok := upl[name]; ok && name != "" {
			errs = append(errs, fmt.Errorf("network.lan[%d]: its interface %s is the uplink's (%s): the box would trust the internet as LAN and serve it DHCP and DNS: %s", i, name, what, hint))
		}
	}
	return errs
}
