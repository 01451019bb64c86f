package netctl

import (
	"errors"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The VPN server pushes routes (route, redirect-gateway), and openvpn
// installs them through the tunnel. It is the company's server, but one
// misconfigured or taken over could push a route inside the LAN's subnet
// (the LAN's lower half, a single LAN host): longest prefix wins, so the
// box's answers to those LAN hosts, and the LAN's forwarded traffic,
// would go into the tunnel. That is the same mistake as a WAN DHCP server's
// classless routes (dhcproutes.go), and it is refused the same way: after
// each connect, the tunnel's routes that lie inside a LAN subnet,
// link-local or multicast are deleted, and logged. Wider routes
// (redirect-gateway's 0.0.0.0/1, a 192.168.0.0/16 around the LAN) leave
// the LAN's own, more specific route in charge and stay.

// tunnelRouteRecheck is when the routes are looked at again after a
// connect: openvpn's route-delay adds pushed routes after CONNECTED.
var tunnelRouteRecheck = []time.Duration{0, 3 * time.Second, 10 * time.Second}

// insideProtectedLocked says which LAN, link-local or multicast prefix
// dst lies within (at least as specific), or false.
func (s *Service) insideProtectedLocked(dst netip.Prefix) (netip.Prefix, bool) {
	prot := []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("224.0.0.0/4")}
	for _, p := range s.cfg.LAN {
		if pf, err := netip.ParsePrefix(p.Address); err == nil {
			prot = append(prot, pf.Masked())
		}
	}
	for _, p := range prot {
		if dst.Bits() >= p.Bits() && p.Contains(dst.Addr()) {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

// pruneTunnelRoutes deletes the routes through iface that lie inside a
// protected prefix; it returns how many.
func (s *Service) pruneTunnelRoutes(iface string) int {
	link, err := netlink.LinkByName(iface)
	if err != nil {
		return 0
	}
	routes, err := netlink.RouteList(link, netlink.FAMILY_V4)
	if err != nil {
		s.log.Warn("VPN routes: cannot list", "interface", iface, "err", err)
		return 0
	}
	n := 0
	for _, r := range routes {
		if r.Dst == nil || r.Table != unix.RT_TABLE_MAIN && r.Table != 0 {
			continue
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		bits, _ := r.Dst.Mask.Size()
		pf := netip.PrefixFrom(dst, bits)
		s.mu.Lock()
		covers, bad := s.insideProtectedLocked(pf)
		s.mu.Unlock()
		if !bad {
			continue
		}
		if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			s.log.Warn("VPN route refused but not deleted", "route", pf, "err", err)
			continue
		}
		s.log.Warn("VPN route refused: the server pushed a route inside the LAN, link-local or multicast; the LAN keeps its traffic",
			"interface", iface, "route", pf, "inside", covers)
		n++
	}
	return n
}

// watchTunnelRoutes prunes the tunnel's routes after a connect, again
// once openvpn may have added delayed ones.
func (s *Service) watchTunnelRoutes(iface string) {
	var waited time.Duration
	for _, at := range tunnelRouteRecheck {
		time.Sleep(at - waited)
		waited = at
		s.pruneTunnelRoutes(iface)
	}
}
