package netctl_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// startFailoverRig: WAN and LTE both by DHCP, probes to the internet
// server, a LAN client, a web server on the box's port 80 and a server on
// the internet.
func startFailoverRig(t testing.TB, tag string, cfg map[string]any) *rig {
	r := newRig(t, tag)
	r.startDNSMasq("wanp", wanNet)
	r.startDNSMasq("ltep", lteNet)
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("both uplinks healthy, WAN active", 40*time.Second, func() (bool, string) {
		st := r.status()
		w, l := uplink(st, "wan"), uplink(st, "modem")
		return st.Active == "wan" && w.State == "healthy" && l.State == "healthy" && r.defaultRoute() == "wan0",
			fmt.Sprintf("active %q wan %s lte %s route %s", st.Active, w.State, l.State, r.defaultRoute())
	})
	return r
}

// TestNamespaceFailoverCarrierAndProbes: carrier loss on the wired WAN
// moves the default route to LTE at once, carrier back moves it back after
// the failback hold; a WAN that keeps carrier but stops answering probes
// is left too; LTE probes go out of lte0 only.
func TestNamespaceFailoverCarrierAndProbes(t *testing.T) {
	t.Parallel()
	r := startFailoverRig(t, "fo", baseConfig())
	serve(t, r.inetNS, internetIP+":8080")
	resolvBefore, _ := os.ReadFile(r.resolv)
	if !strings.Contains(string(resolvBefore), "nameserver "+wanNet+".53") {
		t.Errorf("resolv.conf not from WAN:\n%s", resolvBefore)
	}

	// Carrier loss.
	r.setCarrier("wanp", false)
	r.waitFor("default route via LTE", 5*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "modem" && r.defaultRoute() == "lte0", fmt.Sprintf("active %q route %s", st.Active, r.defaultRoute())
	})
	seen, err := dialFrom(r.boxNS, internetIP+":8080", 3*time.Second)
	if err != nil || !strings.HasPrefix(seen, lteNet+".") {
		t.Errorf("box to internet over LTE: seen as %q, %v", seen, err)
	}
	resolv, _ := os.ReadFile(r.resolv)
	if !strings.Contains(string(resolv), "nameserver "+lteNet+".53") {
		t.Errorf("resolv.conf not switched to LTE's DNS:\n%s", resolv)
	}
	if u := uplink(r.status(), "wan"); u.State != "no-carrier" || u.Carrier {
		t.Errorf("wan state %s carrier %v", u.State, u.Carrier)
	}

	// Carrier back: failback after failback_after_sec (2s) of health.
	r.setCarrier("wanp", true)
	back := time.Now()
	r.waitFor("failback to WAN", 30*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "wan" && r.defaultRoute() == "wan0", fmt.Sprintf("active %q", st.Active)
	})
	// Hysteresis: not before the hold. The bound is generous on purpose:
	// this is an order check (WAN must be confirmed and held), not a timing.
	if time.Since(back) < 2*time.Second {
		t.Errorf("failback after %v, before the 2s hold", time.Since(back))
	}

	// probe failure with carrier: the ISP stops routing (its gateway drops
	// the internet server). The WAN fails after fail_after_sec and LTE
	// takes over; LTE's probes kept working because they leave via lte0.
	run(t, "ip", "netns", "exec", r.inet, "nft", "add table ip blk; add chain ip blk c { type filter hook input priority 0; }; add rule ip blk c iifname wanp ip daddr "+internetIP+" drop")
	r.waitFor("failover on probe failure", 20*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "modem" && uplink(st, "wan").State == "failed", fmt.Sprintf("active %q wan %+v", st.Active, uplink(st, "wan").Health)
	})
	if u := uplink(r.status(), "wan"); !u.Carrier {
		t.Errorf("wan lost carrier in the probe test")
	}
	run(t, "ip", "netns", "exec", r.inet, "nft", "delete table ip blk")
	r.waitFor("failback after probes answer again", 30*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "wan", fmt.Sprintf("active %q", st.Active)
	})
	if st := r.status(); st.Switches < 5 {
		t.Errorf("switches = %d, want at least 5 (initial, out, back, out, back)", st.Switches)
	}

	// New priorities by reload: LTE first.
	cfg := baseConfig()
	cfg["network"].(map[string]any)["uplinks"] = []any{"modem", "wan"}
	r.writeConfig(cfg)
	r.proc.Process.Signal(sighup)
	r.waitFor("LTE preferred after reload", 30*time.Second, func() (bool, string) {
		st := r.status()
		return st.Active == "modem" && r.defaultRoute() == "lte0", fmt.Sprintf("active %q", st.Active)
	})
	defaults := strings.TrimSpace(run(t, "ip", "-n", r.box, "-4", "route", "show", "default"))
	if n := len(strings.Split(defaults, "\n")); n != 3 || !strings.Contains(defaults, "dev lte0") || !strings.Contains(defaults, "metric 10 ") && !strings.HasSuffix(defaults, "metric 10") {
		t.Errorf("default routes after the priority change (want active + one standby per uplink):\n%s", defaults)
	}
}

// TestNamespaceFirewallAndNAT: the internet cannot reach the box's web
// port or SSH on either uplink, the LAN can; open ports are reachable from
// the internet; a LAN client reaches the internet through NAT with the
// box's uplink address; the table is one inet table "edgebox".
func TestNamespaceFirewallAndNAT(t *testing.T) {
	t.Parallel()
	r := startFailoverRig(t, "fw", baseConfig())
	serve(t, r.inetNS, internetIP+":8080")
	for _, p := range []string{"80", "22", "5061", "8081"} {
		serve(t, r.boxNS, "0.0.0.0:"+p)
	}
	st := r.status()
	wanAddr := netip.MustParsePrefix(uplink(st, "wan").Address).Addr().String()
	lteAddr := netip.MustParsePrefix(uplink(st, "modem").Address).Addr().String()

	for _, tc := range []struct {
		from, addr string
		open       bool
	}{
		{"internet", wanAddr + ":80", false},
		{"internet", wanAddr + ":22", false},
		{"internet", lteAddr + ":80", false},
		{"internet", wanAddr + ":8081", false}, // not opened
		{"internet", wanAddr + ":5061", true},  // firewall.open_tcp
		{"lan", lanBoxAddr + ":80", true},
		{"lan", lanBoxAddr + ":22", true},
	} {
		ns := r.inetNS
		if tc.from == "lan" {
			ns = r.lanNS
		}
		got, err := dialFrom(ns, tc.addr, 2*time.Second)
		if tc.open && err != nil {
			t.Errorf("%s -> %s: %v, want reachable", tc.from, tc.addr, err)
		}
		if !tc.open && err == nil {
			t.Errorf("%s -> %s answered (%q), want dropped", tc.from, tc.addr, got)
		}
	}

	// NAT: the internet server sees the box's WAN address, not the LAN's.
	seen, err := dialFrom(r.lanNS, internetIP+":8080", 3*time.Second)
	if err != nil || seen != wanAddr {
		t.Errorf("LAN client to internet: seen as %q (%v), want %s", seen, err, wanAddr)
	}
	// And out of LTE after a failover.
	r.setCarrier("wanp", false)
	r.waitFor("LTE active", 5*time.Second, func() (bool, string) { return r.status().Active == "modem", "" })
	seen, err = dialFrom(r.lanNS, internetIP+":8080", 3*time.Second)
	if err != nil || seen != lteAddr {
		t.Errorf("LAN client to internet over LTE: seen as %q (%v), want %s", seen, err, lteAddr)
	}
	out := run(t, "ip", "netns", "exec", r.box, "nft", "list", "tables")
	if strings.TrimSpace(out) != "table inet edgebox" {
		t.Errorf("nft tables:\n%s", out)
	}
	fw := r.status().Firewall
	if !fw.Applied || fw.Error != "" || !fw.Router {
		t.Errorf("firewall status %+v", fw)
	}
	if v := strings.TrimSpace(run(t, "ip", "netns", "exec", r.box, "cat", "/proc/sys/net/ipv4/ip_forward")); v != "1" {
		t.Errorf("ip_forward in the box = %s", v)
	}
}
