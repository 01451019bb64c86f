package firewall

import (
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"edgebox/internal/config"
)

// BootPlan is the fail-closed table init loads before any service starts:
// nothing inbound except replies, loopback, and on the LAN ports the
// management ports, DHCP, DNS and ping. Nothing is forwarded. It holds until
// netctl replaces the table with the real ruleset, and stays if netctl
// never starts or dies.
type BootPlan struct {
	LAN        []string    // LAN interface names
	Management []PortRange // TCP ports of the web UI, API and SSH
}

// bootPlanFor derives the boot plan from the network config and the
// board's NIC roles, the way netctl resolves LAN ports (explicit interface,
// then network.interfaces, then the board). A LAN port whose interface is
// unknown is left out: fail closed.
func bootPlanFor(n config.Network, roles map[string]string) BootPlan {
	var p BootPlan
	for _, l := range n.LAN {
		name := l.Interface
		if name == "" {
			name = n.Interfaces[l.Role]
		}
		if name == "" {
			name = roles[l.Role]
		}
		if name != "" && !slices.Contains(p.LAN, name) {
			p.LAN = append(p.LAN, name)
		}
	}
	p.Management, _ = parseRanges(n.Firewall.ManagementTCP)
	if len(p.Management) == 0 {
		// The LAN must reach the setup page even with a broken list.
		p.Management = []PortRange{{80, 80}, {443, 443}}
	}
	return p
}

// Boot is what init runs before any service starts: the boot plan for the
// config and NIC roles, loaded.
func Boot(n config.Network, roles map[string]string) (BootPlan, error) {
	p := bootPlanFor(n, roles)
	return p, loadBoot(p)
}

// loadBoot replaces the table with the fail-closed boot ruleset in one
// transaction.
func loadBoot(p BootPlan) error {
	c, t, err := Replace()
	if err != nil {
		return err
	}
	input := BaseChain(c, t, "input", nftables.ChainHookInput)
	BaseChain(c, t, "forward", nftables.ChainHookForward) // empty: drop all
	add := func(e []expr.Any) { c.AddRule(&nftables.Rule{Table: t, Chain: input, Exprs: e}) }
	accept := []expr.Any{Verdict(expr.VerdictAccept)}

	add(Rule(MatchCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept))
	add(Rule(MatchIface(expr.MetaKeyIIFNAME, "lo"), accept))
	for _, lan := range p.LAN {
		in := MatchIface(expr.MetaKeyIIFNAME, lan)
		for _, r := range p.Management {
			add(Rule(in, MatchDport(unix.IPPROTO_TCP, r), accept))
		}
		add(Rule(in, MatchDport(unix.IPPROTO_UDP, PortRange{67, 67}), accept)) // DHCP
		add(Rule(in, MatchDport(unix.IPPROTO_UDP, PortRange{53, 53}), accept)) // DNS
		add(Rule(in, MatchDport(unix.IPPROTO_TCP, PortRange{53, 53}), accept))
		add(Rule(in, matchL4(unix.IPPROTO_ICMP), accept))
		add(Rule(in, matchL4(unix.IPPROTO_ICMPV6), accept)) // also neighbour discovery
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: load the boot table %s: %w", Table, err)
	}
	return nil
}
