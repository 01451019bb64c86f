package netctl

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"edgebox/api/netapi"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// The box's DHCP server on its LAN ports, as every router has, so that a
// laptop or a phone plugged into the LAN gets an address and finds the
// setup page. This file is the server's decisions (which address for
// whom, what to answer), kept apart from sockets and files so that they
// are tested and fuzzed without root; landhcp_run.go runs it.

// The lease types the API shows live in the leaf package netapi.
type (
	LANLeases = netapi.LANLeases
)

// LANDomain is the DNS domain LAN clients are given (option 15); the box
// answers for its own names in it (boxNames).
const LANDomain = "lan"

// leasePool decides the answers of the DHCP server on one LAN port. Not
// safe for concurrent use: its server calls it from one goroutine.
type leasePool struct {
	iface       string
	server      netip.Addr   // the box's address on the port
	subnet      netip.Prefix // the port's subnet
	first, last netip.Addr
	leaseTime   time.Duration
	router      bool         // offer the box as the default gateway
	dns         []netip.Addr // DNS servers for the clients

	leases   map[string]*netapi.LANLease // by MAC
	byAddr   map[netip.Addr]string       // MAC by leased address
	offers   map[netip.Addr]offer
	declined map[netip.Addr]time.Time // in use by someone we do not know, until
}

type offer struct {
	mac   string
	until time.Time
}

// offerHold is how long an offered address is kept for its client.
const offerHold = time.Minute

func newLeasePool(iface string, port netip.Prefix, first, last netip.Addr, leaseTime time.Duration) *leasePool {
	return &leasePool{iface: iface, server: port.Addr(), subnet: port.Masked(), first: first, last: last, leaseTime: leaseTime,
		leases: map[string]*netapi.LANLease{}, byAddr: map[netip.Addr]string{}, offers: map[netip.Addr]offer{}, declined: map[netip.Addr]time.Time{}}
}

// setLease records l; an expired lease of another client on the same
// address goes, so that each address has one lease at most.
func (p *leasePool) setLease(l netapi.LANLease) {
	a := netip.MustParseAddr(l.Address)
	p.dropLease(l.MAC)
	if other, ok := p.byAddr[a]; ok {
		p.dropLease(other)
	}
	p.leases[l.MAC] = &l
	p.byAddr[a] = l.MAC
}

func (p *leasePool) dropLease(mac string) {
	if old := p.leases[mac]; old != nil {
		delete(p.byAddr, netip.MustParseAddr(old.Address))
		delete(p.leases, mac)
	}
}

// load takes stored leases, dropping expired ones and those outside the
// pool (the range may have changed).
func (p *leasePool) load(stored []netapi.LANLease, now time.Time) {
	for _, l := range stored {
		a, err := netip.ParseAddr(l.Address)
		if err != nil || !p.inPool(a) || !l.Expires.After(now) || l.Interface != p.iface {
			continue
		}
		if _, err := net.ParseMAC(l.MAC); err != nil || p.holder(a, l.MAC, now) != "" {
			continue
		}
		p.setLease(l)
	}
}

// list returns the current leases sorted by address.
func (p *leasePool) list(now time.Time) []netapi.LANLease {
	var out []netapi.LANLease
	for _, l := range p.leases {
		if l.Expires.After(now) {
			out = append(out, *l)
		}
	}
	slices.SortFunc(out, func(a, b netapi.LANLease) int {
		return netip.MustParseAddr(a.Address).Compare(netip.MustParseAddr(b.Address))
	})
	return out
}

func (p *leasePool) inPool(a netip.Addr) bool {
	return a.Is4() && p.subnet.Contains(a) && a != p.server && p.first.Compare(a) <= 0 && a.Compare(p.last) <= 0
}

// holder is the MAC other than mac that holds or was offered a, or
// "declined" when a client found it in use.
func (p *leasePool) holder(a netip.Addr, mac string, now time.Time) string {
	if m, ok := p.byAddr[a]; ok && m != mac && p.leases[m].Expires.After(now) {
		return m
	}
	if o, ok := p.offers[a]; ok && o.mac != mac && o.until.After(now) {
		return o.mac
	}
	if until, ok := p.declined[a]; ok && until.After(now) {
		return "declined"
	}
	return ""
}

// pick chooses the address to offer mac: its own lease, the one it asks
// for, or the first free one. Invalid when the pool is full.
func (p *leasePool) pick(mac string, requested netip.Addr, now time.Time) netip.Addr {
	if l := p.leases[mac]; l != nil {
		if a := netip.MustParseAddr(l.Address); p.inPool(a) && p.holder(a, mac, now) == "" {
			return a
		}
	}
	if p.inPool(requested) && p.holder(requested, mac, now) == "" {
		return requested
	}
	for a := p.first; a.IsValid() && a.Compare(p.last) <= 0; a = a.Next() {
		if p.inPool(a) && p.holder(a, mac, now) == "" {
			return a
		}
	}
	return netip.Addr{}
}

func ip4(a netip.Addr) net.IP { return net.IP(a.AsSlice()) }

func addrOf(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok {
		return netip.Addr{}
	}
	return a
}

// answer returns the reply to m (nil: stay silent) and whether the leases
// changed (so they are stored).
func (p *leasePool) answer(m *dhcpv4.DHCPv4, now time.Time) (*dhcpv4.DHCPv4, bool) {
	if m.OpCode != dhcpv4.OpcodeBootRequest || m.HWType != iana.HWTypeEthernet || len(m.ClientHWAddr) != 6 ||
		!m.GatewayIPAddr.IsUnspecified() && m.GatewayIPAddr != nil { // relayed: not from our LAN
		return nil, false
	}
	mac := m.ClientHWAddr.String()
	if sid := m.ServerIdentifier(); sid != nil && addrOf(sid) != p.server {
		// The client chose, or talks to, another server.
		if m.MessageType() == dhcpv4.MessageTypeRequest {
			for a, o := range p.offers {
				if o.mac == mac {
					delete(p.offers, a)
				}
			}
		}
		return nil, false
	}
	for a, o := range p.offers {
		if !o.until.After(now) {
			delete(p.offers, a)
		}
	}
	switch m.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		a := p.pick(mac, addrOf(m.RequestedIPAddress()), now)
		if !a.IsValid() {
			return nil, false // pool full: nothing to offer
		}
		p.offers[a] = offer{mac: mac, until: now.Add(offerHold)}
		return p.reply(m, dhcpv4.MessageTypeOffer, a), false
	case dhcpv4.MessageTypeRequest:
		want := addrOf(m.RequestedIPAddress())
		if !want.IsValid() || want.IsUnspecified() {
			want = addrOf(m.ClientIPAddr) // renewing or rebinding
		}
		if want.IsValid() && !want.IsUnspecified() && !p.subnet.Contains(want) && m.ServerIdentifier() == nil &&
			addrOf(m.ClientIPAddr).IsUnspecified() {
			// INIT-REBOOT (a device plugged in again asks for the address
			// it had) with an address of another network: after the LAN
			// moved, an answer is what sends it to DISCOVER at once
			// (RFC 2131 4.3.2: the server must NAK a wrong network).
			// Silent, a laptop waits, and one whose old gateway still
			// answers (LANMoveGrace) may keep its old lease.
			return p.nak(m), false
		}
		if !want.IsValid() || !p.subnet.Contains(want) {
			return nil, false // not about our subnet
		}
		if !p.inPool(want) || p.holder(want, mac, now) != "" {
			return p.nak(m), false
		}
		host := m.HostName()
		if len(host) > 63 || strings.ContainsFunc(host, func(r rune) bool { return r < ' ' || r > '~' }) {
			host = ""
		}
		// A renewal of a lease whose stored end is still more than half
		// a lease away need not be stored: the client renews again
		// (T1, half the lease) before that end, so a box back from a
		// power cut still knows the address is held. Storing each one
		// let a LAN host write /perm as fast as it sent REQUESTs (sixth
		// review).
		old := p.leases[mac]
		renewal := old != nil && old.Address == want.String() && old.Hostname == host && old.Expires.After(now.Add(p.leaseTime/2))
		p.setLease(netapi.LANLease{Interface: p.iface, MAC: mac, Address: want.String(), Hostname: host, Expires: now.Add(p.leaseTime)})
		if renewal {
			p.leases[mac].Expires = old.Expires // as stored; the client renews before
		}
		delete(p.offers, want)
		delete(p.declined, want)
		return p.reply(m, dhcpv4.MessageTypeAck, want), !renewal
	case dhcpv4.MessageTypeRelease:
		if l := p.leases[mac]; l != nil && l.Address == addrOf(m.ClientIPAddr).String() {
			p.dropLease(mac)
			return nil, true
		}
	case dhcpv4.MessageTypeDecline:
		a := addrOf(m.RequestedIPAddress())
		if l := p.leases[mac]; l != nil && a.IsValid() && l.Address == a.String() {
			p.dropLease(mac)
			p.declined[a] = now.Add(p.leaseTime)
			return nil, true
		}
	}
	return nil, false
}

func (p *leasePool) reply(m *dhcpv4.DHCPv4, t dhcpv4.MessageType, yours netip.Addr) *dhcpv4.DHCPv4 {
	mods := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(t),
		dhcpv4.WithYourIP(ip4(yours)),
		dhcpv4.WithServerIP(ip4(p.server)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip4(p.server))),
		dhcpv4.WithNetmask(net.CIDRMask(p.subnet.Bits(), 32)),
		dhcpv4.WithLeaseTime(uint32(p.leaseTime / time.Second)),
		dhcpv4.WithOption(dhcpv4.OptDomainName(LANDomain)),
	}
	if p.router {
		mods = append(mods, dhcpv4.WithRouter(ip4(p.server)))
	}
	if len(p.dns) > 0 {
		var ips []net.IP
		for _, d := range p.dns {
			ips = append(ips, ip4(d))
		}
		mods = append(mods, dhcpv4.WithDNS(ips...))
	}
	r, err := dhcpv4.NewReplyFromRequest(m, mods...)
	if err != nil {
		return nil
	}
	return r
}

func (p *leasePool) nak(m *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	r, err := dhcpv4.NewReplyFromRequest(m, dhcpv4.WithMessageType(dhcpv4.MessageTypeNak),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(ip4(p.server))))
	if err != nil {
		return nil
	}
	return r
}

// replyTo is where a reply to m goes (RFC 2131 4.1): the client's own
// address when it has one, else broadcast, since the client cannot
// receive unicast before it has its address and the socket cannot fill
// the ARP cache.
func replyTo(m, reply *dhcpv4.DHCPv4, subnet netip.Prefix) *net.UDPAddr {
	// only a ciaddr of the LAN's own: any other sent the box's answer to
	// an internet or VPN host of the LAN host's choosing (seventh review)
	if reply.MessageType() != dhcpv4.MessageTypeNak && m.ClientIPAddr != nil && !m.ClientIPAddr.IsUnspecified() &&
		subnet.Contains(addrOf(m.ClientIPAddr)) {
		return &net.UDPAddr{IP: m.ClientIPAddr, Port: dhcpv4.ClientPort}
	}
	return &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ClientPort}
}
