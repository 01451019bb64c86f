package netctl

import (
	"fmt"
	"net/netip"
	"os"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"edgebox/internal/config"
	"edgebox/internal/firewall"
)

// firewallPlan is what the firewall must enforce, built from config and the
// interfaces currently in each role.
type firewallPlan struct {
	Uplinks []string // interface names: drop inbound except established and Open*
	LAN     []string // trusted: everything accepted
	// VPN interface names; a trailing '*' matches a prefix.
	VPN        []string
	OpenUDP    []portRange
	OpenTCP    []portRange
	Management []portRange // TCP, LAN and VPN only (implied by the policy)
	Router     bool        // forward LAN -> uplinks with NAT
	// VPNToLAN are LAN destinations the VPN may open connections to through
	// the box; LANToVPN are VPN destinations the LAN may reach. Empty: the
	// VPN reaches the box itself only, and the LAN never the VPN.
	VPNToLAN []netip.Prefix
	LANToVPN []netip.Prefix
	// Spoofed are source addresses no packet from an uplink may carry
	// (the LAN's subnets, loopback): services trust such
	// sources (the gateway its PBX), and conntrack would even take one
	// for a reply to a flow the box has with that host.
	Spoofed []netip.Prefix
	// NoFilter (netctl --no-firewall, debugging): no filter chains at all,
	// so nothing is dropped; router mode still masquerades so the LAN
	// reaches the internet. It replaces init's fail-closed boot table,
	// which would otherwise keep dropping forwarded traffic.
	NoFilter bool
}

// portRange is an inclusive port range.
type portRange struct{ Lo, Hi uint16 }

func parseRanges(ss []string) ([]portRange, error) {
	var out []portRange
	for _, s := range ss {
		lo, hi, err := config.ParsePortRange(s)
		if err != nil {
			return nil, err
		}
		out = append(out, portRange{lo, hi})
	}
	return out, nil
}

// parsePrefixes parses validated prefixes (config.Network.Validate).
func parsePrefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Equal reports whether two plans give the same ruleset.
func (p firewallPlan) Equal(q firewallPlan) bool {
	return slices.Equal(p.Uplinks, q.Uplinks) && slices.Equal(p.LAN, q.LAN) && slices.Equal(p.VPN, q.VPN) &&
		slices.Equal(p.OpenUDP, q.OpenUDP) && slices.Equal(p.OpenTCP, q.OpenTCP) &&
		slices.Equal(p.Management, q.Management) && p.Router == q.Router &&
		slices.Equal(p.VPNToLAN, q.VPNToLAN) && slices.Equal(p.LANToVPN, q.LANToVPN) && p.NoFilter == q.NoFilter &&
		slices.Equal(p.Spoofed, q.Spoofed)
}

func ifnameData(name string) []byte { return firewall.IfnameData(name) }

func matchDport(proto byte, r portRange) []expr.Any {
	return firewall.MatchDport(proto, firewall.PortRange(r))
}

var (
	matchIface   = firewall.MatchIface
	matchCtState = firewall.MatchCtState
	verdict      = firewall.Verdict
	rule         = firewall.Rule
)

// applyFirewall replaces table inet edgebox (init's fail-closed boot table,
// or netctl's previous one) with the plan's rules in one transaction. The
// input and forward chains drop by default; what is allowed:
//
//	input:   established/related; loopback; on uplinks only Open* ports
//	         (checked first: an uplink is never trusted, whatever else its
//	         name matches); LAN and VPN (web UI, API, SSH and everything else).
//	forward: established/related; LAN<->LAN; VPN->LAN and LAN->VPN only to
//	         the configured subnets; LAN->uplink in router mode (masqueraded).
func applyFirewall(p firewallPlan) error {
	c, t, err := firewall.Replace()
	if err != nil {
		return err
	}
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	add := func(ch *nftables.Chain, e []expr.Any) { c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e}) }
	if p.NoFilter {
		return flushNAT(c, t, post, p)
	}
	input := firewall.BaseChain(c, t, "input", nftables.ChainHookInput)
	forward := firewall.BaseChain(c, t, "forward", nftables.ChainHookForward)
	accept := []expr.Any{verdict(expr.VerdictAccept)}
	dropV := []expr.Any{verdict(expr.VerdictDrop)}

	// the interfaces a source may be routed through only if it is inside;
	// a pattern that also matches an uplink (a vpn_interfaces mistake such
	// as "wan*") is left out, or that uplink would drop its own traffic
	var inside []string
	for _, in := range append(slices.Clone(p.LAN), p.VPN...) {
		if !slices.ContainsFunc(p.Uplinks, func(up string) bool { return matchesAny([]string{in}, up) }) {
			inside = append(inside, in)
		}
	}
	for _, ch := range []*nftables.Chain{input, forward} {
		// Before the conntrack accept: a spoofed "reply" is dropped too.
		for _, up := range p.Uplinks {
			for _, src := range p.Spoofed {
				add(ch, rule(matchIface(expr.MetaKeyIIFNAME, up), firewall.MatchSaddr4(src), dropV))
			}
			// A source the box routes through the LAN or a VPN (a LAN
			// router's subnets, the head office's networks a VPN server
			// pushed, where a fleet's PBX lives) never comes from an
			// uplink, whatever routes are in force now. Seventh review.
			// But for the answers to what the box itself sent out of
			// this uplink (its health probes, bound to the uplink's
			// device, to a target the VPN routes too): an established
			// packet to this uplink's own address. A forged one needs a
			// connection the box made from that address to the forged
			// source; the tunnel's are from the tunnel's address.
			if ch == input && len(inside) > 0 {
				add(ch, rule(matchIface(expr.MetaKeyIIFNAME, up), matchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), toOwnAddress(), accept))
			}
			for _, in := range inside {
				add(ch, rule(matchIface(expr.MetaKeyIIFNAME, up), routedVia(in), dropV))
			}
		}
		// A VPN interface is trusted, so its sources must be its own:
		// strict reverse path (fib saddr . iif oif 0), since the box sets
		// no rp_filter. Else a taken-over VPN server could send with a LAN
		// PBX's address, or an internet one's, and be taken for the PBX.
		// Any real VPN source is routed back through the tunnel, or its
		// replies would go astray. Third review.
		for _, vpn := range p.VPN {
			add(ch, rule(matchIface(expr.MetaKeyIIFNAME, vpn), notReversePath(), dropV))
		}
		// The same for the LAN ports (a LAN host posing as an internet
		// PBX or an admin behind the VPN), but for the unspecified
		// source: DHCP requests (0.0.0.0) and IPv6 duplicate address
		// detection (::) have no route back and are fine.
		for _, lan := range p.LAN {
			add(ch, rule(matchIface(expr.MetaKeyIIFNAME, lan), sourceSpecified(unix.NFPROTO_IPV4), notReversePath(), dropV))
			add(ch, rule(matchIface(expr.MetaKeyIIFNAME, lan), sourceSpecified(unix.NFPROTO_IPV6), notReversePath(), dropV))
		}
		add(ch, rule(matchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept))
		add(ch, rule(matchCtState(expr.CtStateBitINVALID), dropV))
	}
	add(input, rule(matchIface(expr.MetaKeyIIFNAME, "lo"), accept))
	// Uplinks first, each ending in its own drop: an uplink stays untrusted
	// whatever else its name matches (a vpn_interfaces pattern such as
	// "wan*", a LAN port configured on the WAN's interface). Were the
	// trusted accepts first, such a mistake would open every port to the
	// internet.
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
		add(input, rule(matchIface(expr.MetaKeyIIFNAME, up), dropV))
	}
	trusted := append(slices.Clone(p.LAN), p.VPN...)
	for _, in := range trusted {
		add(input, rule(matchIface(expr.MetaKeyIIFNAME, in), accept))
	}
	// Nothing is forwarded in from an uplink but replies, here too before
	// any trusted accept.
	for _, up := range p.Uplinks {
		add(forward, rule(matchIface(expr.MetaKeyIIFNAME, up), dropV))
	}
	for _, in := range p.LAN {
		for _, out := range p.LAN {
			add(forward, rule(matchIface(expr.MetaKeyIIFNAME, in), matchIface(expr.MetaKeyOIFNAME, out), accept))
		}
	}
	// Between the VPN and the LAN only what the admin opened, per subnet: a
	// compromised LAN host must not reach the admins' network, nor anything
	// on the VPN every LAN host.
	for _, vpn := range p.VPN {
		for _, lan := range p.LAN {
			for _, dst := range p.VPNToLAN {
				add(forward, rule(matchIface(expr.MetaKeyIIFNAME, vpn), matchIface(expr.MetaKeyOIFNAME, lan), firewall.MatchDaddr4(dst), accept))
			}
			for _, dst := range p.LANToVPN {
				add(forward, rule(matchIface(expr.MetaKeyIIFNAME, lan), matchIface(expr.MetaKeyOIFNAME, vpn), firewall.MatchDaddr4(dst), accept))
			}
		}
	}
	if p.Router {
		for _, lan := range p.LAN {
			for _, up := range p.Uplinks {
				add(forward, rule(matchIface(expr.MetaKeyIIFNAME, lan), matchIface(expr.MetaKeyOIFNAME, up), accept))
			}
		}
	}
	return flushNAT(c, t, post, p)
}

// flushNAT adds the router's masquerade rules to post and applies the batch.
func flushNAT(c *nftables.Conn, t *nftables.Table, post *nftables.Chain, p firewallPlan) error {
	if p.Router {
		for _, up := range p.Uplinks {
			c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: rule(matchIface(expr.MetaKeyOIFNAME, up), []expr.Any{&expr.Masq{}})})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: apply table %s: %w", firewall.Table, err)
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

// notReversePath matches a packet whose source the box does not route
// back through the interface it came in on (nft: fib saddr . iif oif 0).
func notReversePath() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, FlagIIF: true, ResultOIF: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// toOwnAddress matches a packet addressed to its arrival interface's own
// address: nft fib daddr . iif type local.
func toOwnAddress() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// routedVia matches a packet whose source the box routes through the
// interface name (or "prefix*"): nft fib saddr oifname. The lookup is made
// from the packet's destination address, so netctl's source routing
// (policyroute.go) sends an internet source back by the uplink it came
// in on even under a VPN's redirect-gateway def1.
func routedVia(name string) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagSADDR: true, ResultOIFNAME: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameData(name)},
	}
}

// sourceSpecified matches packets of family proto (NFPROTO_IPV4 or _IPV6)
// whose source address is not the unspecified one.
func sourceSpecified(proto byte) []expr.Any {
	off, n := uint32(12), uint32(4) // IPv4 source
	if proto == unix.NFPROTO_IPV6 {
		off, n = 8, 16
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, n)},
	}
}
