package gateway

import "net/netip"

// Three things make the box send UDP to an address someone else picked:
// a TURN client's peer (turnguard.go), the PBX's SDP (pbxmedia.go) and a
// browser's ICE candidates (icefilter.go). All three must keep the box
// from being a relay into itself, onto its links' multicast and
// broadcast, and (each by its own measure) into the networks it sits in.
// classifyPeer is the one rule-set they share; each maps the classes to
// allowed or refused.

// peerClass is what an address is, seen from the box.
type peerClass int

const (
	peerElsewhere  peerClass = iota // none of the below: the internet
	peerNoAddress                   // invalid or unspecified (0.0.0.0, ::)
	peerLinkLocal                   // link-local unicast or multicast
	peerBroadcast                   // multicast, 255.255.255.255, a subnet's broadcast
	peerSelf                        // loopback or one of the box's own addresses
	peerOwnNetwork                  // inside a subnet the box sits in (LAN, VPN, uplink)
	peerPrivate                     // another private, CGNAT or 0.0.0.0/8 address
)

// why says, for a person, why an address of class k is refused.
func (k peerClass) why() string {
	switch k {
	case peerNoAddress:
		return "no address"
	case peerLinkLocal:
		return "link-local"
	case peerBroadcast:
		return "multicast or broadcast"
	case peerSelf:
		return "the box itself (loopback or its own address)"
	case peerOwnNetwork:
		return "a network the box sits in (LAN, VPN or uplink)"
	case peerPrivate:
		return "a private or CGNAT range"
	}
	return ""
}

// cgnat is RFC 6598's shared address space, carriers' side of CGNAT.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// classifyPeer says what ip is. own is the box's addresses (single-IP
// prefixes) and its interfaces' subnets, as interfacePrefixes reads them.
func classifyPeer(ip netip.Addr, own []netip.Prefix) peerClass {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid() || ip.IsUnspecified():
		return peerNoAddress
	case ip.IsLoopback():
		return peerSelf
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast():
		return peerLinkLocal
	case ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return peerBroadcast
	}
	for _, p := range own {
		if p.IsSingleIP() && p.Addr() == ip {
			return peerSelf
		}
	}
	for _, p := range own {
		if !p.IsSingleIP() && p.Addr().Is4() && ip.Is4() && p.Bits() < 31 && ip == lastAddr(p) {
			return peerBroadcast // the broadcast address of a network the box sits in
		}
	}
	for _, p := range own {
		if p.Contains(ip) {
			return peerOwnNetwork
		}
	}
	if ip.IsPrivate() || cgnat.Contains(ip) || (ip.Is4() && ip.As4()[0] == 0) {
		return peerPrivate
	}
	return peerElsewhere
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
