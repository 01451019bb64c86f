package firewall

import (
	"errors"
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

// bootMarker is an empty chain only the boot table has: ReloadBoot's
// transaction deletes it first, so it fails as a whole, leaving the table
// alone, once netctl's table has replaced the boot one.
const bootMarker = "boot-table"

// ReloadBoot loads the boot plan for n and roles again, but only while
// the boot table is still the one loaded: init drops a LAN name that a
// USB device took after the table came in (sixth review). It reports
// false, and changes nothing, once netctl's table is in.
func ReloadBoot(n config.Network, roles map[string]string) (BootPlan, bool, error) {
	p := bootPlanFor(n, roles)
	c, err := nftables.New()
	if err != nil {
		return p, false, fmt.Errorf("firewall: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: Table}
	c.DelChain(&nftables.Chain{Name: bootMarker, Table: t})
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	if err := bootRules(c, t, p); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return p, false, nil // no boot table: netctl's is in
		}
		return p, false, err
	}
	return p, true, nil
}

// loadBoot replaces the table with the fail-closed boot ruleset in one
// transaction.
func loadBoot(p BootPlan) error {
	c, t, err := Replace()
	if err != nil {
		return err
	}
	return bootRules(c, t, p)
}

// bootRules adds the boot ruleset to c's batch and applies it.
func bootRules(c *nftables.Conn, t *nftables.Table, p BootPlan) error {
	c.AddChain(&nftables.Chain{Name: bootMarker, Table: t})
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
