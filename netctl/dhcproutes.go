package netctl

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"edgebox/api/netapi"
)

// An uplink's DHCP server (the ISP, the carrier, or a rogue neighbour on
// the WAN segment) may hand out classless static routes (option 121).
// Routes are chosen by the longest prefix, whatever their metric, so one
// for a part of the LAN or of the VPN's subnets would take that traffic
// away from its interface: the box's answers to LAN hosts, the LAN's
// forwarded packets, syslog and SIP toward the VPN would go to whoever
// sits on the uplink. Such routes are refused; so are routes to addresses
// that are never on the internet (loopback, link-local, multicast).

// neverOnUplink are destinations no uplink route may cover.
var neverOnUplink = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// protectedPrefixesLocked are the destinations that belong to the LAN and
// the VPN: the LAN ports' subnets, the subnets the firewall opens between
// LAN and VPN, and the subnets of the VPN interfaces that are up now.
func (s *Service) protectedPrefixesLocked() []netip.Prefix {
	out := append([]netip.Prefix(nil), neverOnUplink...)
	for _, p := range s.cfg.LAN {
		if pf, err := netip.ParsePrefix(p.Address); err == nil {
			out = append(out, pf.Masked())
		}
	}
	out = append(out, parsePrefixes(s.cfg.Firewall.VPNToLAN)...)
	out = append(out, parsePrefixes(s.cfg.Firewall.LANToVPN)...)
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		if !matchesAny(s.cfg.Firewall.VPNInterfaces, ifi.Name) {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if pf, err := netip.ParsePrefix(n.String()); err == nil && pf.Addr().Is4() {
					out = append(out, pf.Masked())
				}
			}
		}
	}
	return out
}

// matchesAny is the firewall's interface matching: a name, or a prefix
// with a trailing '*'.
func matchesAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if pre, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(name, pre) || p == name {
			return true
		}
	}
	return false
}

// uplinkRoutesLocked drops the routes of u's lease that would cover a
// protected destination, saying so in the log.
func (s *Service) uplinkRoutesLocked(u *uplink, rs []netapi.Route) []netapi.Route {
	if len(rs) == 0 {
		return rs
	}
	protected := s.protectedPrefixesLocked()
	var out []netapi.Route
	for _, r := range rs {
		refused := false
		for _, p := range protected {
			if r.Dst.Overlaps(p) {
				s.log.Warn("uplink route refused: it would take traffic for the LAN, the VPN or the box itself onto the uplink",
					"uplink", u.Name, "route", r.Dst, "gateway", r.Gateway, "covers", p)
				refused = true
				break
			}
		}
		if !refused {
			out = append(out, r)
		}
	}
	return out
}

// lanConflictLocked says why address a may not go on an uplink: it lies
// inside a LAN port's subnet, which the uplink would then claim (the box's
// traffic for LAN hosts could leave over the uplink). "" when it may.
func (s *Service) lanConflictLocked(a netip.Prefix) string {
	for i, p := range s.cfg.LAN {
		if pf, err := netip.ParsePrefix(p.Address); err == nil && pf.Masked().Contains(a.Addr()) {
			return "the address " + a.String() + " the uplink was given is inside the LAN's subnet " + pf.Masked().String() +
				" (network.lan[" + strconv.Itoa(i) + "]): not used; renumber the LAN or the network before the uplink"
		}
	}
	return ""
}

// spoofedSourcesLocked are the sources the firewall drops on uplinks: the
// LAN ports' subnets and loopback. Not the VPN's: lan_to_vpn may name a
// range as wide as 10.0.0.0/8, where carriers put their DHCP and DNS
// servers (an uplink address inside the LAN's subnet is refused anyway:
// lanConflictLocked).
func (s *Service) spoofedSourcesLocked() []netip.Prefix {
	out := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	for _, p := range s.cfg.LAN {
		if pf, err := netip.ParsePrefix(p.Address); err == nil && !slices.Contains(out, pf.Masked()) {
			out = append(out, pf.Masked())
		}
	}
	return out
}
