package netctl

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"edgebox/internal/config"
)

// FirewallTable is the one nftables table netctl owns. It is replaced as a
// whole in one netlink batch, so the box is never half-protected.
const FirewallTable = "edgebox"

// FirewallPlan is what the firewall must enforce, built from config and the
// interfaces currently in each role.
type FirewallPlan struct {
	Uplinks []string // interface names: drop inbound except established and Open*
	LAN     []string // trusted: everything accepted
	// VPN interface names; a trailing '*' matches a prefix.
	VPN        []string
	OpenUDP    []PortRange
	OpenTCP    []PortRange
	Management []PortRange // TCP, LAN and VPN only (implied by the policy)
	Router     bool        // forward LAN -> uplinks with NAT
}

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

func parseRanges(ss []string) ([]PortRange, error) {
	var out []PortRange
	for _, s := range ss {
		lo, hi, err := config.ParsePortRange(s)
		if err != nil {
			return nil, err
		}
		out = append(out, PortRange{lo, hi})
	}
	return out, nil
}

// Equal reports whether two plans give the same ruleset.
func (p FirewallPlan) Equal(q FirewallPlan) bool {
	return slices.Equal(p.Uplinks, q.Uplinks) && slices.Equal(p.LAN, q.LAN) && slices.Equal(p.VPN, q.VPN) &&
		slices.Equal(p.OpenUDP, q.OpenUDP) && slices.Equal(p.OpenTCP, q.OpenTCP) &&
		slices.Equal(p.Management, q.Management) && p.Router == q.Router
}

// ifnameData is an interface name as nftables compares it: NUL padded to
// IFNAMSIZ, or, for "prefix*", just the prefix bytes (a prefix match).
func ifnameData(name string) []byte {
	if p, ok := strings.CutSuffix(name, "*"); ok {
		return []byte(p)
	}
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func matchIface(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameData(name)},
	}
}

func matchCtState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func matchDport(proto byte, r PortRange) []expr.Any {
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
	}
	if r.Lo == r.Hi {
		return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Lo)})
	}
	return append(e,
		&expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Lo)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Hi)})
}

func verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

func rule(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ApplyFirewall replaces table inet edgebox with the plan's rules in one
// batch. The input and forward chains drop by default; what is allowed:
//
//	input:   established/related; loopback; LAN and VPN (web UI, API, SSH and
//	         everything else); on uplinks only Open* ports.
//	forward: established/related; LAN<->LAN, LAN<->VPN; LAN->uplink in
//	         router mode (masqueraded).
func ApplyFirewall(p FirewallPlan) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: FirewallTable}
	// add+delete+add in one batch: replaces the table whether it existed or not.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	drop := nftables.ChainPolicyDrop
	input := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	forward := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &drop})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	add := func(ch *nftables.Chain, e []expr.Any) { c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e}) }
	accept := []expr.Any{verdict(expr.VerdictAccept)}
	dropV := []expr.Any{verdict(expr.VerdictDrop)}

	for _, ch := range []*nftables.Chain{input, forward} {
		add(ch, rule(matchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept))
		add(ch, rule(matchCtState(expr.CtStateBitINVALID), dropV))
	}
	add(input, rule(matchIface(expr.MetaKeyIIFNAME, "lo"), accept))
	trusted := append(slices.Clone(p.LAN), p.VPN...)
	for _, in := range trusted {
		add(input, rule(matchIface(expr.MetaKeyIIFNAME, in), accept))
	}
	for _, up := range p.Uplinks {
		for _, r := range p.Management {
			// Explicit, so that opening a range that overlaps a management
			// port cannot expose the web UI or SSH to the internet.
			add(input, rule(matchIface(expr.MetaKeyIIFNAME, up), matchDport(unix.IPPROTO_TCP, r), dropV))
		}
		for _, r := range p.OpenUDP {
			add(input, rule(matchIface(expr.MetaKeyIIFNAME, up), matchDport(unix.IPPROTO_UDP, r), accept))
		}
		for _, r := range p.OpenTCP {
			add(input, rule(matchIface(expr.MetaKeyIIFNAME, up), matchDport(unix.IPPROTO_TCP, r), accept))
		}
	}
	for _, in := range trusted {
		for _, out := range trusted {
			add(forward, rule(matchIface(expr.MetaKeyIIFNAME, in), matchIface(expr.MetaKeyOIFNAME, out), accept))
		}
	}
	if p.Router {
		for _, lan := range p.LAN {
			for _, up := range p.Uplinks {
				add(forward, rule(matchIface(expr.MetaKeyIIFNAME, lan), matchIface(expr.MetaKeyOIFNAME, up), accept))
			}
		}
		for _, up := range p.Uplinks {
			add(post, rule(matchIface(expr.MetaKeyOIFNAME, up), []expr.Any{&expr.Masq{}}))
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: apply table %s: %w", FirewallTable, err)
	}
	return nil
}

// setForwarding turns IPv4 forwarding on or off (per network namespace).
func setForwarding(on bool) error {
	v := "0\n"
	if on {
		v = "1\n"
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte(v), 0o644); err != nil {
		return fmt.Errorf("ip_forward: %w", err)
	}
	return nil
}
