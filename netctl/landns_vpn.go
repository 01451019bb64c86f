package netctl

import (
	"net/netip"
	"strings"

	"edgebox/netctl/openvpn"
)

// Split DNS for the VPN: the company's names (the PBX, the syslog server,
// the update server) are known only to the DNS servers the VPN server
// pushes (openvpn/pushdns.go). While the tunnel is up, the LAN's queries
// for names in the pushed domains go to those servers through it, and
// every other query to the uplink's as before; a server that pushes no
// domain but takes all traffic gets every query. Names of the VPN's
// domains never go to the uplink's servers, even when the VPN's do not
// answer: they would leak the company's names and answer nothing useful.

// vpnDNS is a connected VPN's DNS as the forwarder uses it.
type vpnDNS struct {
	servers []netip.Addr
	domains []string // lower case, no trailing dot
	search  []string // the box's own short names are tried in these
	all     bool     // every query goes to servers
}

// vpnDNSOf is st's DNS the box uses, or nil.
func vpnDNSOf(st openvpn.Status) *vpnDNS {
	if st.State != openvpn.StateConnected || st.DNS == nil || st.DNS.Use == openvpn.DNSUnused {
		return nil
	}
	v := &vpnDNS{all: st.DNS.Use == openvpn.DNSAll}
	for _, s := range st.DNS.Servers {
		if a, err := netip.ParseAddr(s); err == nil {
			v.servers = append(v.servers, a)
		}
	}
	for _, d := range st.DNS.Domains {
		v.domains = append(v.domains, strings.ToLower(strings.TrimSuffix(d, ".")))
	}
	for _, d := range st.DNS.Search {
		v.search = append(v.search, strings.ToLower(strings.TrimSuffix(d, ".")))
	}
	if len(v.servers) == 0 {
		return nil
	}
	return v
}

// serversFor is the VPN's servers when they are to answer name, else nil.
func (v *vpnDNS) serversFor(name string) []netip.Addr {
	if v == nil {
		return nil
	}
	if v.all {
		return v.servers
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, d := range v.domains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return v.servers
		}
	}
	return nil
}

// dnsServersFor is where the box forwards a query for name: the VPN's
// servers for its domains, the active uplink's for the rest.
func (s *Service) dnsServersFor(name string) []netip.Addr {
	if vs := s.vpnDNS.Load().serversFor(name); vs != nil {
		return vs
	}
	return s.upstreamDNS()
}

// setVPNDNS takes the VPN's status after each change.
func (s *Service) setVPNDNS(st openvpn.Status) {
	v := vpnDNSOf(st)
	if old := s.vpnDNS.Load(); (old == nil) != (v == nil) || v != nil && !sameVPNDNS(old, v) {
		s.log.Info("DNS through the VPN", "servers", st.DNS, "on", v != nil)
	}
	s.vpnDNS.Store(v)
	var search []string
	if v != nil {
		search = v.search
	}
	s.syncOwnDNS(v != nil, search)
}

func sameVPNDNS(a, b *vpnDNS) bool {
	return a.all == b.all && strings.Join(a.domains, " ") == strings.Join(b.domains, " ") &&
		strings.Join(a.search, " ") == strings.Join(b.search, " ") &&
		len(a.servers) == len(b.servers) && (len(a.servers) == 0 || a.servers[0] == b.servers[0])
}
