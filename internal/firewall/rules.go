// Package firewall holds the nftables pieces init and netctl share: the one
// table both load, the expression helpers, and the fail-closed table init
// loads before any service starts. It is a leaf (nftables and config only),
// so PID 1 does not link netctl.
package firewall

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"edgebox/internal/config"
)

// Table is the one nftables table of the box (inet family). init loads a
// fail-closed version at boot; netctl replaces it with the real ruleset.
const Table = "edgebox"

// PortRange is an inclusive port range.
type PortRange struct{ Lo, Hi uint16 }

// parseRanges parses config port lists ("5060", "10000-20000").
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

// Replace starts a batch that replaces the table whether it existed or not
// (add, delete, add). Nothing reaches the kernel until the caller's Flush,
// which applies the whole batch as one transaction: the old rules hold until
// the new ones are in, with no moment where no table is loaded.
func Replace() (*nftables.Conn, *nftables.Table, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nil, fmt.Errorf("firewall: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: Table}
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	return c, t, nil
}

// BaseChain adds a filter chain on hook with policy drop.
func BaseChain(c *nftables.Conn, t *nftables.Table, name string, hook *nftables.ChainHook) *nftables.Chain {
	drop := nftables.ChainPolicyDrop
	return c.AddChain(&nftables.Chain{Name: name, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &drop})
}

// IfnameData is an interface name as nftables compares it: NUL padded to
// IFNAMSIZ, or, for "prefix*", just the prefix bytes (a prefix match).
func IfnameData(name string) []byte {
	if p, ok := strings.CutSuffix(name, "*"); ok {
		return []byte(p)
	}
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

// MatchIface matches the input (MetaKeyIIFNAME) or output interface name.
func MatchIface(key expr.MetaKey, name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: IfnameData(name)},
	}
}

// MatchCtState matches any of the conntrack state bits.
func MatchCtState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// MatchDport matches an L4 protocol and a destination port range.
func MatchDport(proto byte, r PortRange) []expr.Any {
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

// matchL4 matches an L4 protocol (ICMP, UDP, TCP).
func matchL4(proto byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// MatchDaddr4 matches IPv4 packets whose destination is inside p.
func MatchDaddr4(p netip.Prefix) []expr.Any { return matchAddr4(16, p) }

// MatchSaddr4 matches IPv4 packets whose source is inside p.
func MatchSaddr4(p netip.Prefix) []expr.Any { return matchAddr4(12, p) }

// matchAddr4 matches the IPv4 address at offset (12 source, 16
// destination) of the network header against p.
func matchAddr4(offset uint32, p netip.Prefix) []expr.Any {
	p = p.Masked()
	var mask [4]byte
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	net := p.Addr().As4()
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask[:], Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: net[:]},
	}
}

// Verdict is a rule's last expression.
func Verdict(k expr.VerdictKind) expr.Any { return &expr.Verdict{Kind: k} }

// Rule joins expression lists into one rule.
func Rule(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
