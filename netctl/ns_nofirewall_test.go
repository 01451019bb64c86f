package netctl_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/internal/firewall"
)

// TestNamespaceNoFirewallReplacesBootTable (issue 23): init loads its
// fail-closed boot table, then netctl runs with --no-firewall. The flag
// means "no firewall", so the boot table must not stay: the LAN client
// reaches the internet through the box (NAT still done in router mode),
// the internet reaches the box's management port, and the status and log
// say loudly that the firewall is off.
func TestNamespaceNoFirewallReplacesBootTable(t *testing.T) {
	t.Parallel()
	r := newRig(t, "nf")
	r.startDNSMasq("wanp", wanNet)
	r.startDNSMasq("ltep", lteNet)
	r.writeConfig(baseConfig())
	r.bootFirewall() // before netctl starts
	serve(t, r.inetNS, internetIP+":8080")
	serve(t, r.boxNS, "0.0.0.0:8081")
	r.netctlArgs = []string{"--no-firewall"}
	r.startNetctl()
	r.waitFor("WAN active", 40*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "wan" && r.defaultRoute() == "wan0", fmt.Sprintf("active %q", st.Active)
	})
	wanAddr := strings.Split(uplink(r.status(), "wan").Address, "/")[0]

	var seen string
	r.waitFor("LAN client reaches the internet through the box", 20*time.Second, func() (bool, string) {
		var err error
		seen, err = dialFrom(r.lanNS, internetIP+":8080", 2*time.Second)
		return err == nil, fmt.Sprint(err)
	})
	if seen != wanAddr {
		t.Errorf("LAN client seen by the internet as %q, want the box's WAN address %s (NAT)", seen, wanAddr)
	}
	if _, err := dialFrom(r.inetNS, wanAddr+":8081", 3*time.Second); err != nil {
		t.Errorf("internet -> box port 8081 with --no-firewall: %v, want answered (nothing filtered)", err)
	}
	if fw := r.status().Firewall; !strings.Contains(fw.Error, "firewall is off") {
		t.Errorf("firewall status does not say it is off: %+v", fw)
	}
	if !strings.Contains(r.log.String(), "FIREWALL OFF") {
		t.Error("no warning in netctl's log")
	}
	out := run(t, "ip", "netns", "exec", r.box, "nft", "list", "table", "inet", firewall.Table)
	if strings.Contains(out, "hook input") || strings.Contains(out, "hook forward") {
		t.Errorf("filter chains left with --no-firewall:\n%s", out)
	}
}
