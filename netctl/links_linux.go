package netctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Route metrics. The active uplink's default route has activeMetric; every
// configured uplink also keeps a default route at standbyMetric(index), so
// that its health probes (bound to its device) have a route to follow and a
// switch is one atomic route replace.
const (
	activeMetric = 10
	standbyBase  = 1000
)

func standbyMetric(index int) int { return standbyBase + 10*index }

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// linkState reports whether the link exists, is administratively up and has
// carrier (IFF_LOWER_UP).
func linkState(name string) (exists, carrier bool, l netlink.Link) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return false, false, nil
	}
	f := l.Attrs().RawFlags
	return true, f&unix.IFF_UP != 0 && f&unix.IFF_LOWER_UP != 0, l
}

func linkUp(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("link %s up: %w", name, err)
	}
	return nil
}

// linkDown takes a link down; never the loopback, which no uplink or
// modem is (a test once named it as a modem's interface, and the shutdown
// took the host's loopback down).
func linkDown(name string) error {
	if name == "lo" {
		return fmt.Errorf("link lo: the loopback is never taken down")
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil // already gone
	}
	return netlink.LinkSetDown(l)
}

func setMTU(name string, mtu int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if mtu == 0 || l.Attrs().MTU == mtu {
		return nil
	}
	if err := netlink.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("link %s mtu %d: %w", name, mtu, err)
	}
	return nil
}

// setAddress makes p the only IPv4 address of link name, at once.
func setAddress(name string, p netip.Prefix) error {
	return setLANAddress(name, p, 0)
}

// foreverLft is the kernel's lifetime of an address that never expires.
const foreverLft = 0xFFFFFFFF

// setLANAddress makes p the LAN port's address. Another address the port
// had is not removed at once but left to expire after grace, deprecated
// (never the source of new connections): a device that still holds a
// lease in the old network reaches the box there until it asks DHCP
// again. An address already expiring is left to do so; p, if it was
// expiring (moved back), is made permanent again. With no grace every
// other address goes at once.
func setLANAddress(name string, p netip.Prefix, grace time.Duration) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("link %s: list addresses: %w", name, err)
	}
	have := false
	for _, a := range addrs {
		ap, _ := netip.AddrFromSlice(a.IP.To4())
		ones, _ := a.Mask.Size()
		permanent := uint32(a.ValidLft) == foreverLft
		switch {
		case netip.PrefixFrom(ap, ones) == p:
			have = true
			if !permanent {
				a.ValidLft, a.PreferedLft = foreverLft, foreverLft
				if err := netlink.AddrReplace(l, &a); err != nil {
					return fmt.Errorf("link %s: keep %s: %w", name, p, err)
				}
			}
		case !permanent && grace > 0:
			// expiring already
		case grace > 0:
			a.ValidLft, a.PreferedLft = int(grace/time.Second), 0
			if err := netlink.AddrReplace(l, &a); err != nil {
				return fmt.Errorf("link %s: let %s expire: %w", name, a.IPNet, err)
			}
		default:
			if err := netlink.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				return fmt.Errorf("link %s: remove %s: %w", name, a.IPNet, err)
			}
		}
	}
	if have {
		return nil
	}
	if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: prefixToIPNet(p)}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("link %s: add %s: %w", name, p, err)
	}
	return nil
}

// flushAddresses removes every IPv4 address (and so the routes using them).
func flushAddresses(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := netlink.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return fmt.Errorf("link %s: remove %s: %w", name, a.IPNet, err)
		}
	}
	return nil
}

// replaceRoute installs (or replaces) dst via gw on link name at metric.
func replaceRoute(name string, dst netip.Prefix, gw, src netip.Addr, metric int) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: prefixToIPNet(dst), Priority: metric, Protocol: unix.RTPROT_STATIC}
	if gw.IsValid() {
		r.Gw = gw.AsSlice()
		if src.IsValid() && !onSubnet(l, gw) {
			// Modems report an address without a subnet (*E2IPCFG) or a
			// gateway outside it: the gateway is on the link all the same.
			r.Flags = int(netlink.FLAG_ONLINK)
		}
	} else {
		r.Scope = netlink.SCOPE_LINK
	}
	if src.IsValid() {
		r.Src = src.AsSlice()
	}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("route %s via %v dev %s metric %d: %w", dst, gw, name, metric, err)
	}
	return nil
}

var defaultDst = netip.MustParsePrefix("0.0.0.0/0")

// deleteActiveDefault removes the default route at activeMetric, whatever
// device it uses.
func deleteActiveDefault() error {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Priority: activeMetric}, netlink.RT_FILTER_PRIORITY)
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
			if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// deleteStaticRoutes removes the routes netctl put on link name.
func deleteStaticRoutes(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, r := range routes {
		if r.Protocol == unix.RTPROT_STATIC {
			if err := netlink.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
				return err
			}
		}
	}
	return nil
}

func linkStats(name string) (rx, tx uint64) {
	l, err := netlink.LinkByName(name)
	if err != nil || l.Attrs().Statistics == nil {
		return 0, 0
	}
	return l.Attrs().Statistics.RxBytes, l.Attrs().Statistics.TxBytes
}

// onSubnet reports whether gw is inside one of link l's IPv4 subnets.
func onSubnet(l netlink.Link, gw netip.Addr) bool {
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IPNet != nil && a.IPNet.Contains(gw.AsSlice()) {
			return true
		}
	}
	return false
}

// linkIPv4 returns the first IPv4 address of iface, if it is up.
func linkIPv4(iface string) (netip.Prefix, bool) {
	l, err := netlink.LinkByName(iface)
	if err != nil || l.Attrs().RawFlags&unix.IFF_UP == 0 {
		return netip.Prefix{}, false
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil || len(addrs) == 0 {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(addrs[0].IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, 32), true
}
