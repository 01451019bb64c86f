package netctl

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netlinkPolicy is policyKernel on a netlink handle (a zero Handle works
// in the caller's network namespace).
type netlinkPolicy struct{ h *netlink.Handle }

func newNetlinkPolicy() netlinkPolicy { return netlinkPolicy{h: &netlink.Handle{}} }

func (k netlinkPolicy) Rules() ([]policyRule, error) {
	rules, err := k.h.RuleList(netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []policyRule
	for _, r := range rules {
		pr := policyRule{Priority: r.Priority, Table: r.Table, SuppressPrefixlen: r.SuppressPrefixlen}
		if r.Src != nil {
			a, ok := netip.AddrFromSlice(r.Src.IP.To4())
			ones, _ := r.Src.Mask.Size()
			if ok {
				pr.From = netip.PrefixFrom(a, ones)
			}
		}
		out = append(out, pr)
	}
	return out, nil
}

func (k netlinkPolicy) rule(r policyRule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	nr.Priority, nr.Table, nr.SuppressPrefixlen = r.Priority, r.Table, r.SuppressPrefixlen
	if r.From.IsValid() {
		nr.Src = prefixToIPNet(r.From)
	}
	return nr
}

func (k netlinkPolicy) AddRule(r policyRule) error {
	if err := k.h.RuleAdd(k.rule(r)); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}

func (k netlinkPolicy) DelRule(r policyRule) error {
	if err := k.h.RuleDel(k.rule(r)); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// Routes lists the IPv4 routes in netctl's source tables.
func (k netlinkPolicy) Routes() ([]tableRoute, error) {
	routes, err := k.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	var out []tableRoute
	for _, r := range routes {
		if !ownedTable(r.Table) {
			continue
		}
		tr := tableRoute{Table: r.Table, Dst: defaultDst, OnLink: r.Flags&int(netlink.FLAG_ONLINK) != 0}
		if r.Dst != nil {
			a, _ := netip.AddrFromSlice(r.Dst.IP.To4())
			ones, _ := r.Dst.Mask.Size()
			tr.Dst = netip.PrefixFrom(a, ones)
		}
		tr.Gateway, _ = netip.AddrFromSlice(r.Gw.To4())
		tr.Src, _ = netip.AddrFromSlice(r.Src.To4())
		name, ok := names[r.LinkIndex]
		if !ok {
			if l, err := k.h.LinkByIndex(r.LinkIndex); err == nil {
				name = l.Attrs().Name
			}
			names[r.LinkIndex] = name
		}
		tr.Iface = name
		out = append(out, tr)
	}
	return out, nil
}

func (k netlinkPolicy) route(r tableRoute) (*netlink.Route, error) {
	nr := &netlink.Route{Table: r.Table, Dst: prefixToIPNet(r.Dst), Protocol: unix.RTPROT_STATIC}
	if r.Iface != "" {
		l, err := k.h.LinkByName(r.Iface)
		if err != nil {
			return nil, fmt.Errorf("link %s: %w", r.Iface, err)
		}
		nr.LinkIndex = l.Attrs().Index
	}
	if r.Gateway.IsValid() {
		nr.Gw = r.Gateway.AsSlice()
		if r.OnLink {
			nr.Flags = int(netlink.FLAG_ONLINK)
		}
	} else {
		nr.Scope = netlink.SCOPE_LINK
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	return nr, nil
}

func (k netlinkPolicy) ReplaceRoute(r tableRoute) error {
	nr, err := k.route(r)
	if err != nil {
		return err
	}
	return k.h.RouteReplace(nr)
}

func (k netlinkPolicy) DelRoute(r tableRoute) error {
	// Scope "nowhere" matches a route of any scope (as ip route del does);
	// the default, universe, would miss the link-scope subnet route.
	nr := &netlink.Route{Table: r.Table, Dst: prefixToIPNet(r.Dst), Scope: netlink.SCOPE_NOWHERE}
	if r.Gateway.IsValid() {
		nr.Gw = r.Gateway.AsSlice()
	}
	if l, err := k.h.LinkByName(r.Iface); err == nil {
		nr.LinkIndex = l.Attrs().Index
	}
	if err := k.h.RouteDel(nr); err != nil && !errors.Is(err, unix.ESRCH) {
		return err
	}
	return nil
}
