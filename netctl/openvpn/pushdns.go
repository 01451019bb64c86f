package openvpn

import (
	"bufio"
	"bytes"
	"net/netip"
	"slices"
	"strings"

	"edgebox/api/vpnapi"
)

// Remote admins name what is behind the VPN (the PBX, the syslog server,
// the update server) by the names the company's DNS gives them, and the
// server pushes that DNS: "dhcp-option DNS/DOMAIN/DOMAIN-SEARCH" (2.0-2.5)
// or 2.6's "dns server N address ..." and "dns search-domains ...".
// openvpn on Linux applies none of it by itself (only through a script,
// which the box does not run); netctl asks those servers for the pushed
// domains (split DNS, netctl/landns_vpn.go). A server that pushes DNS but
// no domain, and sends all traffic through the tunnel (redirect-gateway),
// gets every query: the uplink's servers would be asked through the
// tunnel anyway. One that pushes DNS with neither is not used, and the
// status says what to push.

// DNS uses, as vpnapi.DNS.Use says them.
const (
	DNSSplit  = vpnapi.DNSSplit
	DNSAll    = vpnapi.DNSAll
	DNSUnused = vpnapi.DNSUnused
)

// DNSNoDomain is the note on pushed DNS servers the box does not use.
const DNSNoDomain = "the VPN server pushes DNS servers but no domain, and the tunnel does not take all traffic: the box keeps its uplink's DNS; push \"dhcp-option DOMAIN\" with the company's domain for its names to resolve over the VPN"

// pushedDNS is what a PUSH_REPLY says about DNS.
type pushedDNS struct {
	servers  []netip.Addr
	domains  []string // asked of servers (split DNS)
	search   []string // of domains, those also tried after a short name
	redirect bool     // redirect-gateway: the tunnel takes all traffic

	// The profile's own filters on what is pushed, which openvpn applies
	// after logging the whole reply: route-nopull drops routes and DHCP
	// options, pull-filter's first matching rule decides.
	noPull  bool
	filters [][2]string // action, option text prefix
}

// pulled reports whether openvpn takes the pushed option opt.
func (p *pushedDNS) pulled(opt string) bool {
	for _, f := range p.filters {
		if strings.HasPrefix(opt, f[1]) {
			return f[0] == "accept"
		}
	}
	if p.noPull {
		switch strings.Fields(opt)[0] {
		case "route", "route-ipv6", "redirect-gateway", "redirect-private", "dhcp-option", "dns":
			return false
		}
	}
	return true
}

// readPushed takes one option of the server's reply.
func (p *pushedDNS) readPushed(f []string) {
	if p.pulled(strings.Join(f, " ")) {
		p.read(f)
	}
}

// read takes one option, split into fields.
func (p *pushedDNS) read(f []string) {
	switch {
	case f[0] == "route-nopull":
		p.noPull = true
	case f[0] == "pull-filter" && len(f) > 2:
		p.filters = append(p.filters, [2]string{f[1], f[2]})
	case f[0] == "redirect-gateway":
		p.redirect = true
	case f[0] == "dhcp-option" && len(f) > 2:
		switch strings.ToUpper(f[1]) {
		case "DNS", "DNS6":
			p.addServer(f[2])
		case "DOMAIN", "DOMAIN-SEARCH", "ADAPTER_DOMAIN_SUFFIX":
			p.addDomain(f[2], true)
		}
	case f[0] == "dns" && len(f) > 1:
		switch {
		case f[1] == "search-domains":
			for _, d := range f[2:] {
				p.addDomain(d, true)
			}
		case f[1] == "server" && len(f) > 4 && f[3] == "address":
			for _, a := range f[4:] {
				p.addServer(a)
			}
		case f[1] == "server" && len(f) > 4 && f[3] == "resolve-domains":
			for _, d := range f[4:] {
				p.addDomain(d, false) // 2.6: split DNS only, not a search domain
			}
		}
	}
}

func (p *pushedDNS) addServer(s string) {
	// 2.6 writes "address 10.8.0.1:53" or "[fd00::1]:53"; port 53 only.
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() != 53 {
			return
		}
		s = ap.Addr().String()
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || slices.Contains(p.servers, a) {
		return
	}
	p.servers = append(p.servers, a.Unmap())
}

// addDomain takes a domain whose names the VPN's servers answer; search:
// a short name ("pbx") is also tried in it, as Windows and
// systemd-resolved do with a pushed DOMAIN or search domain.
func (p *pushedDNS) addDomain(d string, search bool) {
	d = strings.ToLower(strings.Trim(d, ". "))
	if d == "" || strings.ContainsAny(d, "/\\ \"'") {
		return
	}
	if !slices.Contains(p.domains, d) {
		p.domains = append(p.domains, d)
	}
	if search && !slices.Contains(p.search, d) {
		p.search = append(p.search, d)
	}
}

// status is how the box uses what was pushed; nil when no DNS server was.
func (p *pushedDNS) status() *vpnapi.DNS {
	if len(p.servers) == 0 {
		return nil
	}
	st := &vpnapi.DNS{Domains: slices.Clone(p.domains), Search: slices.Clone(p.search)}
	for _, a := range p.servers {
		st.Servers = append(st.Servers, a.String())
	}
	switch {
	case len(p.domains) > 0:
		st.Use = DNSSplit
	case p.redirect:
		st.Use = DNSAll
	default:
		st.Use, st.Note = DNSUnused, DNSNoDomain
	}
	return st
}

// sameDNS reports whether a and b say the same.
func sameDNS(a, b *vpnapi.DNS) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Use == b.Use && slices.Equal(a.Servers, b.Servers) && slices.Equal(a.Domains, b.Domains) && slices.Equal(a.Search, b.Search)
}

// profileDNS is what the profile's own dhcp-option and dns lines say (a
// Windows-made profile often names the company's DNS itself): openvpn
// treats them as if pushed, and a push adds to them.
func profileDNS(text []byte) pushedDNS {
	var p pushedDNS
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), MaxProfileSize)
	for sc.Scan() {
		if toks, err := tokenize(sc.Text()); err == nil && len(toks) > 0 {
			p.read(toks)
		}
	}
	return p
}

// with is p and then what q adds.
func (p pushedDNS) with(q pushedDNS) pushedDNS {
	out := pushedDNS{redirect: p.redirect || q.redirect, noPull: p.noPull, filters: p.filters}
	for _, a := range append(slices.Clone(p.servers), q.servers...) {
		out.addServer(a.String())
	}
	for _, d := range append(slices.Clone(p.domains), q.domains...) {
		out.addDomain(d, slices.Contains(p.search, d) || slices.Contains(q.search, d))
	}
	return out
}

// filtersOnly is an empty reply read under p's pull filters.
func (p pushedDNS) filtersOnly() pushedDNS {
	return pushedDNS{noPull: p.noPull, filters: p.filters}
}
