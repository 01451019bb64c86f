package openvpn

import (
	"net/netip"
)

// pushedAddrs is what a server's PUSH_REPLY says about its own tunnel
// address, which the dead-server probes ping (deadpeer.go).
//
// topology subnet pushes it as route-gateway. net30 and p2p push none:
// "ifconfig <local> <peer>" there names a /30's virtual peer that nobody
// holds under net30 (the server is on 10.8.0.1, the client 10.8.0.6 with
// peer 10.8.0.5), so a ping to the peer is never answered and an idle
// tunnel to a live server was taken for dead. openvpn's "server" helper
// pushes the server's own address as a host route ("route 10.8.0.1"), or,
// with client-to-client, the whole pool ("route 10.8.0.0 255.255.255.0"),
// whose first host is the server.
type pushedAddrs struct {
	routeGateway netip.Addr
	ifLocal      netip.Addr
	ifPeer       netip.Addr // invalid under topology subnet (a netmask there)
	hostRoutes   []netip.Addr
	netRoutes    []netip.Prefix
	done         bool // the reply's last part was read
	// gatewayDHCP: "route-gateway dhcp", a bridged server that leaves
	// the addresses to the office's DHCP server (ErrBridgeDHCP).
	gatewayDHCP bool
}

// read takes one pushed option, split into fields.
func (p *pushedAddrs) read(f []string) {
	switch f[0] {
	case "route-gateway":
		p.gatewayDHCP = len(f) > 1 && f[1] == "dhcp"
		if len(f) > 1 {
			if a, err := netip.ParseAddr(f[1]); err == nil && a.Is4() {
				p.routeGateway = a
			}
		}
	case "ifconfig":
		if len(f) > 2 {
			p.ifLocal, _ = netip.ParseAddr(f[1])
			if a, err := netip.ParseAddr(f[2]); err == nil && !isNetmask(a) {
				p.ifPeer = a
			}
		}
	case "route":
		if len(f) < 2 {
			return
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil || !a.Is4() {
			return // "route vpn_gateway ..." and the like name no address
		}
		bits := 32
		if len(f) > 2 && f[2] != "default" {
			m, err := netip.ParseAddr(f[2])
			if err != nil || !isNetmask(m) {
				return
			}
			bits = maskBits(m)
		}
		if bits == 32 {
			p.hostRoutes = append(p.hostRoutes, a)
		} else if pf, err := a.Prefix(bits); err == nil {
			p.netRoutes = append(p.netRoutes, pf)
		}
	}
}

// server is the address to ping: the route-gateway; else the first host
// of a pushed route holding the box's own tunnel address (the pool under
// client-to-client); else the pushed host route nearest the box's address
// (the server's own); else the ifconfig peer (a p2p static tunnel).
func (p *pushedAddrs) server() netip.Addr {
	if p.routeGateway.IsValid() {
		return p.routeGateway
	}
	if p.ifLocal.Is4() {
		for _, pf := range p.netRoutes {
			if pf.Bits() < 31 && pf.Contains(p.ifLocal) {
				return pf.Addr().Next()
			}
		}
		best, bestLen := netip.Addr{}, -1
		for _, a := range p.hostRoutes {
			if n := commonBits(a, p.ifLocal); n > bestLen {
				best, bestLen = a, n
			}
		}
		if best.IsValid() {
			return best
		}
	}
	return p.ifPeer
}

// isNetmask says whether a is a contiguous IPv4 netmask (255.255.255.0).
func isNetmask(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return v != 0 && v|(v-1) == ^uint32(0) && v>>31 == 1
}

func maskBits(m netip.Addr) int {
	n := 0
	for _, x := range m.As4() {
		for ; x&0x80 != 0; x <<= 1 {
			n++
		}
	}
	return n
}

// commonBits is the length of the prefix two IPv4 addresses share.
func commonBits(a, b netip.Addr) int {
	x, y := a.As4(), b.As4()
	for i := range 4 {
		if d := x[i] ^ y[i]; d != 0 {
			n := i * 8
			for ; d&0x80 == 0; d <<= 1 {
				n++
			}
			return n
		}
	}
	return 32
}
