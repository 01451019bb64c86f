package netctl

import (
	"edgebox/api/netapi"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// fakePolicy is a kernel with rules and source-table routes in memory.
type fakePolicy struct {
	rules  []policyRule
	routes []tableRoute
	ops    []string
	failOn string // an op prefix that fails
}

func (f *fakePolicy) fail(op string) error {
	f.ops = append(f.ops, op)
	if f.failOn != "" && strings.HasPrefix(op, f.failOn) {
		return errors.New("injected")
	}
	return nil
}

func (f *fakePolicy) Rules() ([]policyRule, error) { return slices.Clone(f.rules), nil }
func (f *fakePolicy) AddRule(r policyRule) error {
	if err := f.fail("add rule " + r.String()); err != nil {
		return err
	}
	f.rules = append(f.rules, r)
	return nil
}
func (f *fakePolicy) DelRule(r policyRule) error {
	if err := f.fail("del rule " + r.String()); err != nil {
		return err
	}
	if i := slices.Index(f.rules, r); i >= 0 {
		f.rules = slices.Delete(f.rules, i, i+1)
	}
	return nil
}
func (f *fakePolicy) Routes() ([]tableRoute, error) { return slices.Clone(f.routes), nil }
func (f *fakePolicy) ReplaceRoute(r tableRoute) error {
	if err := f.fail("route " + r.String()); err != nil {
		return err
	}
	f.routes = slices.DeleteFunc(f.routes, func(x tableRoute) bool { return x.Table == r.Table && x.Dst == r.Dst })
	f.routes = append(f.routes, r)
	return nil
}
func (f *fakePolicy) DelRoute(r tableRoute) error {
	if err := f.fail("del route " + r.String()); err != nil {
		return err
	}
	f.routes = slices.DeleteFunc(f.routes, func(x tableRoute) bool { return sameRoute(x, r) })
	return nil
}

func (f *fakePolicy) ruleStrings() []string {
	var out []string
	for _, r := range f.rules {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

func (f *fakePolicy) routeStrings() []string {
	var out []string
	for _, r := range f.routes {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

var (
	wanSrc = sourceRoute{Uplink: "wan", Iface: "wan0", Index: 0, Addr: netip.MustParsePrefix("10.1.0.100/24"), Gateway: netip.MustParseAddr("10.1.0.1")}
	lteSrc = sourceRoute{Uplink: "modem", Iface: "lte0", Index: 1, Addr: netip.MustParsePrefix("10.2.0.7/24"), Gateway: netip.MustParseAddr("10.2.0.1"),
		Routes: []netapi.Route{{Dst: netip.MustParsePrefix("172.16.0.0/12"), Gateway: netip.MustParseAddr("10.2.0.2")}}}
	pppSrc = sourceRoute{Uplink: "modem", Iface: "ppp0", Index: 1, Addr: netip.MustParsePrefix("100.64.3.4/32"), Gateway: netip.MustParseAddr("10.64.64.64")}
)

func TestSyncSourceRouting(t *testing.T) {
	foreign := []policyRule{
		{Priority: 0, Table: 255, SuppressPrefixlen: -1},
		{Priority: 32766, Table: 254, SuppressPrefixlen: -1},
		{Priority: 500, From: netip.MustParsePrefix("192.168.9.0/24"), Table: 7, SuppressPrefixlen: -1}, // not netctl's
	}
	k := &fakePolicy{rules: slices.Clone(foreign)}
	// A leftover of a killed netctl: a rule and a table route it no longer wants.
	k.rules = append(k.rules, policyRule{Priority: 1005, From: netip.MustParsePrefix("10.7.0.1/32"), Table: 105, SuppressPrefixlen: -1})
	k.routes = append(k.routes, tableRoute{Table: 105, Iface: "old0", Dst: defaultDst, Gateway: netip.MustParseAddr("10.7.0.254"), Src: netip.MustParseAddr("10.7.0.1")},
		tableRoute{Table: 50, Iface: "x", Dst: defaultDst}) // not netctl's table

	if err := syncSourceRouting(k, []sourceRoute{wanSrc, lteSrc}); err != nil {
		t.Fatal(err)
	}
	wantRules := []string{
		"0: from all lookup 255",
		"1000: from 10.1.0.100/32 lookup 100",
		"1001: from 10.2.0.7/32 lookup 101",
		"32766: from all lookup 254",
		"500: from 192.168.9.0/24 lookup 7",
		"999: from all lookup 254 suppress_prefixlength 1",
	}
	if got := k.ruleStrings(); !slices.Equal(got, wantRules) {
		t.Errorf("rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRules, "\n"))
	}
	wantRoutes := []string{
		"table 100 0.0.0.0/0 via 10.1.0.1 dev wan0 src 10.1.0.100",
		"table 100 10.1.0.0/24 dev wan0 src 10.1.0.100",
		"table 101 0.0.0.0/0 via 10.2.0.1 dev lte0 src 10.2.0.7",
		"table 101 10.2.0.0/24 dev lte0 src 10.2.0.7",
		"table 101 172.16.0.0/12 via 10.2.0.2 dev lte0 src 10.2.0.7",
		"table 50 0.0.0.0/0 dev x src invalid IP",
	}
	if got := k.routeStrings(); !slices.Equal(got, wantRoutes) {
		t.Errorf("routes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRoutes, "\n"))
	}

	// Nothing changed: no rule is added or removed again.
	k.ops = nil
	if err := syncSourceRouting(k, []sourceRoute{wanSrc, lteSrc}); err != nil {
		t.Fatal(err)
	}
	for _, op := range k.ops {
		if !strings.HasPrefix(op, "route ") {
			t.Errorf("second sync did %q", op)
		}
	}

	// LTE's lease is renewed with a new address: its rule moves, the old
	// address's rule and routes go.
	lte2 := lteSrc
	lte2.Addr, lte2.Routes = netip.MustParsePrefix("10.2.0.9/24"), nil
	if err := syncSourceRouting(k, []sourceRoute{wanSrc, lte2}); err != nil {
		t.Fatal(err)
	}
	if got := k.ruleStrings(); !slices.Contains(got, "1001: from 10.2.0.9/32 lookup 101") || slices.Contains(got, "1001: from 10.2.0.7/32 lookup 101") {
		t.Errorf("rules after the new LTE address:\n%s", strings.Join(got, "\n"))
	}
	for _, r := range k.routeStrings() {
		if strings.Contains(r, "10.2.0.7") {
			t.Errorf("route of the old address left: %s", r)
		}
	}

	// Reload swaps priorities: modem first. Tables follow the index.
	lteFirst, wanSecond := lte2, wanSrc
	lteFirst.Index, wanSecond.Index = 0, 1
	if err := syncSourceRouting(k, []sourceRoute{lteFirst, wanSecond}); err != nil {
		t.Fatal(err)
	}
	if got := k.ruleStrings(); !slices.Contains(got, "1000: from 10.2.0.9/32 lookup 100") || !slices.Contains(got, "1001: from 10.1.0.100/32 lookup 101") || len(got) != 6 {
		t.Errorf("rules after the swap:\n%s", strings.Join(got, "\n"))
	}
	if got := k.routeStrings(); len(got) != 5 || !slices.Contains(got, "table 100 0.0.0.0/0 via 10.2.0.1 dev lte0 src 10.2.0.9") {
		t.Errorf("routes after the swap:\n%s", strings.Join(got, "\n"))
	}

	// All uplinks down (or shutdown): only the foreign rules and routes stay.
	if err := syncSourceRouting(k, nil); err != nil {
		t.Fatal(err)
	}
	var fs []string
	for _, r := range foreign {
		fs = append(fs, r.String())
	}
	slices.Sort(fs)
	if got := k.ruleStrings(); !slices.Equal(got, fs) {
		t.Errorf("rules after all down:\n%s", strings.Join(got, "\n"))
	}
	if got := k.routeStrings(); len(got) != 1 || got[0] != "table 50 0.0.0.0/0 dev x src invalid IP" {
		t.Errorf("routes after all down:\n%s", strings.Join(got, "\n"))
	}
}

func TestSourcePlanPointToPoint(t *testing.T) {
	rules, routes := sourcePlan([]sourceRoute{pppSrc})
	if len(rules) != 2 || rules[1].String() != "1001: from 100.64.3.4/32 lookup 101" {
		t.Errorf("rules %v", rules)
	}
	// A /32 has no subnet route; the gateway outside it is on-link.
	if len(routes) != 1 || !routes[0].OnLink || routes[0].Dst != defaultDst {
		t.Errorf("routes %+v", routes)
	}
	_, routes = sourcePlan([]sourceRoute{wanSrc})
	for _, r := range routes {
		if r.OnLink {
			t.Errorf("gateway inside the subnet marked on-link: %+v", r)
		}
	}
}

func TestSyncSourceRoutingErrors(t *testing.T) {
	// A failing route does not stop the rest; the error names it.
	k := &fakePolicy{failOn: "route table 100 0.0.0.0/0"}
	err := syncSourceRouting(k, []sourceRoute{wanSrc, lteSrc})
	if err == nil || !strings.Contains(err.Error(), "table 100 0.0.0.0/0 via 10.1.0.1 dev wan0") {
		t.Fatalf("err = %v", err)
	}
	if !slices.Contains(k.ruleStrings(), "1001: from 10.2.0.7/32 lookup 101") {
		t.Errorf("LTE rule missing after the WAN's route failed: %v", k.ruleStrings())
	}
	// Unusable input is refused with the uplink named, the rest applied.
	bad := sourceRoute{Uplink: "wan", Iface: "wan0", Index: 0, Addr: netip.MustParsePrefix("2001:db8::1/64")}
	k = &fakePolicy{}
	err = syncSourceRouting(k, []sourceRoute{bad, lteSrc})
	if err == nil || !strings.Contains(err.Error(), "uplink wan") {
		t.Fatalf("err = %v", err)
	}
	if len(k.rules) != 2 {
		t.Errorf("rules %v", k.ruleStrings())
	}
}

func TestSourceRoutesLockedOnlyReadyUplinks(t *testing.T) {
	addr := &addrConfig{Address: netip.MustParsePrefix("10.2.0.7/24"), Gateway: netip.MustParseAddr("10.2.0.1")}
	s := &Service{uplinks: []*uplink{
		{Name: "wan", Index: 0, Iface: "wan0", exists: true, carrier: false, addr: &addrConfig{Address: wanSrc.Addr}}, // carrier lost
		{Name: "modem", Index: 1, Iface: "lte0", exists: true, carrier: true, addr: addr},
	}}
	got := s.sourceRoutesLocked()
	if len(got) != 1 || got[0].Uplink != "modem" || got[0].Index != 1 || got[0].Addr != addr.Address || got[0].Gateway != addr.Gateway {
		t.Errorf("sourceRoutesLocked = %+v", got)
	}
	if sourceKey(nil) == "" {
		t.Error("the key of nothing must differ from the unset key, or a restart would not clean leftovers")
	}
}
