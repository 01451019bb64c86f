package netctl

import (
	"edgebox/api/netapi"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Source-based routing. The main table's default route follows the active
// uplink, so without more a reply from a standby uplink's address (a SIP
// peer or VPN client that reached the LTE address while the WAN is active)
// would leave through the active uplink with a source address its ISP
// drops. Each uplink with an address therefore gets a routing table of its
// own (sourceTableBase+Index) with its default route and on-link subnet,
// and a rule "from <address> lookup <table>" (sourceRuleBase+Index).
//
// One more rule in front of them, "lookup main suppress_prefixlength 1",
// keeps every specific route of the main table (LAN, VPN tunnels, the
// uplinks' subnets and static routes) in force for all sources: only the
// main table's routes to "anywhere" are skipped, so that the source rules
// decide where "anywhere" is. This is how wg-quick does it. Without a
// source match the lookup falls through to the main table as before.
// "Anywhere" includes the two halves 0.0.0.0/1 and 128.0.0.0/1 that
// openvpn's redirect-gateway def1 adds through the tunnel (prefix length
// 1, hence 1 and not 0): they may carry the box's own and the LAN's
// traffic, but an answer from an uplink's address must leave by that
// uplink, or its ISP drops it (TestNamespaceRedirectGatewayKeepsUplinkReplies).
const (
	sourceTableBase    = 100
	sourceRuleBase     = 1000
	sourceSpan         = 100 // tables [100,200) and priorities [999,1100) are netctl's
	suppressRulePrio   = sourceRuleBase - 1
	mainTable          = 254 // RT_TABLE_MAIN
	maxSourceUplinkIdx = sourceSpan - 1
)

// sourceRoute is what one uplink needs so that traffic from its address
// leaves through it.
type sourceRoute struct {
	Uplink  string
	Iface   string
	Index   int
	Addr    netip.Prefix   // the uplink's address and subnet
	Gateway netip.Addr     // invalid: the default route is on-link (PPP)
	Routes  []netapi.Route // the uplink's static routes (DHCP option 121)
}

func (s sourceRoute) table() int    { return sourceTableBase + s.Index }
func (s sourceRoute) priority() int { return sourceRuleBase + s.Index }

// policyRule is one "ip rule" netctl owns.
type policyRule struct {
	Priority int
	From     netip.Prefix // invalid: from all
	Table    int
	// SuppressPrefixlen: routes with a prefix this long or shorter are
	// ignored (-1: none).
	SuppressPrefixlen int
}

func (r policyRule) String() string {
	from := "all"
	if r.From.IsValid() {
		from = r.From.String()
	}
	s := fmt.Sprintf("%d: from %s lookup %d", r.Priority, from, r.Table)
	if r.SuppressPrefixlen >= 0 {
		s += fmt.Sprintf(" suppress_prefixlength %d", r.SuppressPrefixlen)
	}
	return s
}

// tableRoute is one route in one of netctl's source tables.
type tableRoute struct {
	Table   int
	Iface   string
	Dst     netip.Prefix
	Gateway netip.Addr // invalid: on-link
	Src     netip.Addr
	OnLink  bool // the gateway is outside the uplink's subnet
}

func (r tableRoute) String() string {
	s := fmt.Sprintf("table %d %s", r.Table, r.Dst)
	if r.Gateway.IsValid() {
		s += " via " + r.Gateway.String()
	}
	return s + " dev " + r.Iface + " src " + r.Src.String()
}

// sameRoute compares what identifies a route to the kernel (OnLink is a
// flag of how it was added, not listed back the same way by every kernel).
func sameRoute(a, b tableRoute) bool {
	return a.Table == b.Table && a.Iface == b.Iface && a.Dst == b.Dst && a.Gateway == b.Gateway && a.Src == b.Src
}

// policyKernel is the part of the kernel source routing needs: IPv4 rules
// and the routes of tables [sourceTableBase, sourceTableBase+sourceSpan).
type policyKernel interface {
	Rules() ([]policyRule, error)
	AddRule(policyRule) error
	DelRule(policyRule) error
	Routes() ([]tableRoute, error)
	ReplaceRoute(tableRoute) error
	DelRoute(tableRoute) error
}

func ownedRule(r policyRule) bool {
	return r.Priority >= suppressRulePrio && r.Priority < sourceRuleBase+sourceSpan
}

func ownedTable(t int) bool { return t >= sourceTableBase && t < sourceTableBase+sourceSpan }

// sourcePlan is the rules and table routes for want.
func sourcePlan(want []sourceRoute) ([]policyRule, []tableRoute) {
	var rules []policyRule
	var routes []tableRoute
	for _, w := range want {
		t, src := w.table(), w.Addr.Addr()
		if w.Addr.Bits() < 32 {
			routes = append(routes, tableRoute{Table: t, Iface: w.Iface, Dst: w.Addr.Masked(), Src: src})
		}
		gwOnLink := w.Gateway.IsValid() && !w.Addr.Contains(w.Gateway)
		routes = append(routes, tableRoute{Table: t, Iface: w.Iface, Dst: defaultDst, Gateway: w.Gateway, Src: src, OnLink: gwOnLink})
		for _, r := range w.Routes {
			routes = append(routes, tableRoute{Table: t, Iface: w.Iface, Dst: r.Dst, Gateway: r.Gateway, Src: src,
				OnLink: r.Gateway.IsValid() && !w.Addr.Contains(r.Gateway)})
		}
		rules = append(rules, policyRule{Priority: w.priority(), From: netip.PrefixFrom(src, 32), Table: t, SuppressPrefixlen: -1})
	}
	if len(rules) > 0 {
		rules = append([]policyRule{{Priority: suppressRulePrio, Table: mainTable, SuppressPrefixlen: 1}}, rules...)
	}
	return rules, routes
}

// sourceKey identifies want, to reprogram only when it changes.
func sourceKey(want []sourceRoute) string {
	var b strings.Builder
	b.WriteString("src")
	for _, w := range want {
		fmt.Fprintf(&b, "|%s,%s,%d,%s,%s,%v", w.Uplink, w.Iface, w.Index, w.Addr, w.Gateway, w.Routes)
	}
	return b.String()
}

// syncSourceRouting makes the kernel's rules in netctl's priority range and
// routes in its tables exactly those for want: stale rules go first (so no
// rule points at a half-built table), then stale routes, then new routes,
// then new rules. It goes on after an error and returns all of them.
func syncSourceRouting(k policyKernel, want []sourceRoute) error {
	var errs []error
	var ok []sourceRoute
	for _, w := range want {
		if w.Index < 0 || w.Index > maxSourceUplinkIdx || !w.Addr.Addr().Is4() || w.Iface == "" {
			errs = append(errs, fmt.Errorf("source routing for uplink %s: index %d, address %s, interface %q not usable", w.Uplink, w.Index, w.Addr, w.Iface))
			continue
		}
		ok = append(ok, w)
	}
	wantRules, wantRoutes := sourcePlan(ok)

	haveRules, err := k.Rules()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list rules: %w", err))...)
	}
	haveRoutes, err := k.Routes()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list source routes: %w", err))...)
	}
	var present []policyRule
	for _, r := range haveRules {
		if !ownedRule(r) {
			continue
		}
		if slices.Contains(wantRules, r) && !slices.Contains(present, r) {
			present = append(present, r)
			continue
		}
		if err := k.DelRule(r); err != nil {
			errs = append(errs, fmt.Errorf("delete rule %s: %w", r, err))
		}
	}
	for _, r := range haveRoutes {
		if !ownedTable(r.Table) {
			continue
		}
		if slices.ContainsFunc(wantRoutes, func(w tableRoute) bool { return sameRoute(w, r) }) {
			continue
		}
		if err := k.DelRoute(r); err != nil {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r, err))
		}
	}
	for _, r := range wantRoutes {
		if err := k.ReplaceRoute(r); err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", r, err))
		}
	}
	for _, r := range wantRules {
		if slices.Contains(present, r) {
			continue
		}
		if err := k.AddRule(r); err != nil {
			errs = append(errs, fmt.Errorf("add rule %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

// sourceRoutesLocked is what source routing should be for the uplinks now:
// one entry per uplink that is ready (interface, carrier, address).
func (s *Service) sourceRoutesLocked() []sourceRoute {
	var out []sourceRoute
	for _, u := range s.uplinks {
		if !u.ready() || u.Iface == "" {
			continue
		}
		out = append(out, sourceRoute{Uplink: u.Name, Iface: u.Iface, Index: u.Index, Addr: u.addr.Address,
			Gateway: u.addr.Gateway, Routes: slices.Clone(u.addr.Routes)})
	}
	return out
}

// syncSourceRoutingLocked reprograms source routing when what it should be
// changed since the last successful run (or force).
func (s *Service) syncSourceRoutingLocked(force bool) {
	want := s.sourceRoutesLocked()
	key := sourceKey(want)
	if !force && key == s.sourceKey {
		return
	}
	if err := syncSourceRouting(s.policy, want); err != nil {
		if err.Error() != s.sourceErr {
			s.log.Error("source routing", "err", err)
		}
		s.sourceErr = err.Error()
		s.sourceKey = "" // try again on the next evaluation
		return
	}
	if s.sourceErr != "" || key != s.sourceKey {
		var names []string
		for _, w := range want {
			names = append(names, fmt.Sprintf("%s:%s->table %d", w.Uplink, w.Addr.Addr(), w.table()))
		}
		s.log.Info("source routing", "uplinks", names)
	}
	s.sourceKey, s.sourceErr = key, ""
}
