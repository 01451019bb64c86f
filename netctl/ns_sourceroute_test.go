package netctl_test

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"edgebox/internal/testenv"
)

// dialFromSource connects from namespace ns with source address src (""
// lets the kernel choose) and returns the first line the server sends.
func dialFromSource(ns netns.NsHandle, src, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	err := testenv.DoInHandle(ns, func() error {
		d := net.Dialer{Timeout: timeout}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		var err error
		c, err = d.Dial("tcp4", addr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	return strings.TrimSpace(string(buf[:n])), err
}

// sourceRules is the box's rules in netctl's range (priorities 999-1099).
func (r *rig) sourceRules() string {
	var out []string
	for _, l := range strings.Split(run(r.t, "ip", "-n", r.box, "-4", "rule", "show"), "\n") {
		var prio int
		if _, err := fmt.Sscanf(l, "%d:", &prio); err == nil && prio >= 999 && prio < 1100 {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, "\n")
}

// table is the content of the box's routing table n ("" when it is empty
// or was never made).
func (r *rig) table(n int) string {
	r.t.Helper()
	out, err := exec.Command("ip", "-n", r.box, "-4", "route", "show", "table", fmt.Sprint(n)).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "does not exist") {
			return ""
		}
		r.t.Fatalf("ip route show table %d: %v\n%s", n, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestNamespaceSourceRouting: with the WAN active and LTE on standby, a
// host on the internet reaches the box's LTE address and the answers go
// back out of LTE (the carrier drops packets from its addresses arriving
// from elsewhere: strict reverse-path filtering in the inet namespace, so
// a reply sent out of the WAN is lost). The rule and table of an uplink go
// when its carrier drops and come back with it, the main table's default
// route stays the active uplink's, and netctl removes everything on exit.
func TestNamespaceSourceRouting(t *testing.T) {
	t.Parallel()
	r := startFailoverRig(t, "sr", baseConfig())
	// BCP38 at the ISPs: a packet is only accepted on the link its source
	// address is routed through.
	run(t, "ip", "netns", "exec", r.inet, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1",
		"net.ipv4.conf.wanp.rp_filter=1", "net.ipv4.conf.ltep.rp_filter=1")
	serve(t, r.boxNS, "0.0.0.0:5061") // firewall.open_tcp
	serve(t, r.inetNS, internetIP+":8080")
	st := r.status()
	wanAddr := netip.MustParsePrefix(uplink(st, "wan").Address).Addr().String()
	lteAddr := netip.MustParsePrefix(uplink(st, "modem").Address).Addr().String()

	wantRules := fmt.Sprintf("999: from all lookup main suppress_prefixlength 1\n1000: from %s lookup 100\n1001: from %s lookup 101", wanAddr, lteAddr)
	r.waitFor("source rules for both uplinks", 10*time.Second, func() (bool, string) {
		got := r.sourceRules()
		return got == wantRules, got
	})
	if got := r.table(101); !strings.Contains(got, "default via "+lteNet+".1 dev lte0") || !strings.Contains(got, lteNet+".0/24 dev lte0") {
		t.Errorf("table 101 (LTE):\n%s", got)
	}
	if got := r.table(100); !strings.Contains(got, "default via "+wanNet+".1 dev wan0") {
		t.Errorf("table 100 (WAN):\n%s", got)
	}

	// The internet server reaches the standby LTE address and gets answers.
	for i := range 3 {
		seen, err := dialFromSource(r.inetNS, internetIP, lteAddr+":5061", 3*time.Second)
		if err != nil || seen != internetIP {
			t.Errorf("internet -> LTE address (try %d): %q, %v", i, seen, err)
		}
	}
	// And the WAN address, over the WAN, as before.
	if seen, err := dialFromSource(r.inetNS, internetIP, wanAddr+":5061", 3*time.Second); err != nil || seen != internetIP {
		t.Errorf("internet -> WAN address: %q, %v", seen, err)
	}
	// The main table is untouched: the box's own traffic leaves by the WAN.
	if r.defaultRoute() != "wan0" {
		t.Errorf("default route %s, want wan0", r.defaultRoute())
	}
	if seen, err := dialFrom(r.boxNS, internetIP+":8080", 3*time.Second); err != nil || seen != wanAddr {
		t.Errorf("box -> internet: seen as %q (%v), want %s", seen, err, wanAddr)
	}

	// Control: without the LTE rule the reply leaves by the WAN and the
	// carrier drops it, so the check above can fail.
	run(t, "ip", "-n", r.box, "rule", "del", "pref", "1001")
	if seen, err := dialFromSource(r.inetNS, internetIP, lteAddr+":5061", time.Second); err == nil {
		t.Errorf("internet -> LTE address answered without the source rule (%q): the rig does not detect replies on the wrong uplink", seen)
	}
	run(t, "ip", "-n", r.box, "rule", "add", "pref", "1001", "from", lteAddr, "lookup", "101")

	// LTE loses carrier: its rule and table go, the WAN's stay.
	r.setCarrier("ltep", false)
	wanOnly := fmt.Sprintf("999: from all lookup main suppress_prefixlength 1\n1000: from %s lookup 100", wanAddr)
	r.waitFor("LTE rule and table removed", 10*time.Second, func() (bool, string) {
		got, tbl := r.sourceRules(), r.table(101)
		return got == wanOnly && tbl == "", got + "\n" + tbl
	})
	if r.table(100) == "" {
		t.Error("WAN table emptied with LTE's carrier")
	}
	// Carrier back: LTE leases again and its rule returns.
	r.setCarrier("ltep", true)
	r.waitFor("LTE rule back", 40*time.Second, func() (bool, string) {
		u := uplink(r.status(), "modem")
		if u.Address == "" {
			return false, "no LTE address"
		}
		a := netip.MustParsePrefix(u.Address).Addr().String()
		got := r.sourceRules()
		return strings.Contains(got, "1001: from "+a+" lookup 101") && strings.Contains(r.table(101), "dev lte0"), got
	})
	lteAddr = netip.MustParsePrefix(uplink(r.status(), "modem").Address).Addr().String()
	if seen, err := dialFromSource(r.inetNS, internetIP, lteAddr+":5061", 3*time.Second); err != nil || seen != internetIP {
		t.Errorf("internet -> LTE address after carrier came back: %q, %v", seen, err)
	}

	// netctl exits: rules and tables go.
	r.stopNetctl()
	if got := r.sourceRules(); got != "" {
		t.Errorf("rules left after exit:\n%s", got)
	}
	for _, n := range []int{100, 101} {
		if got := r.table(n); got != "" {
			t.Errorf("table %d left after exit:\n%s", n, got)
		}
	}
}

// TestNamespaceSourceRoutingReload: a reload that changes the order of the
// uplinks moves their rules and tables with them, one that drops an uplink
// removes its rule and table, and a restarted netctl cleans up after a
// killed one.
func TestNamespaceSourceRoutingReload(t *testing.T) {
	t.Parallel()
	r := startFailoverRig(t, "sq", baseConfig())
	st := r.status()
	wanAddr := netip.MustParsePrefix(uplink(st, "wan").Address).Addr().String()
	lteAddr := netip.MustParsePrefix(uplink(st, "modem").Address).Addr().String()

	cfg := baseConfig()
	cfg["network"].(map[string]any)["uplinks"] = []any{"modem", "wan"}
	r.writeConfig(cfg)
	r.proc.Process.Signal(sighup)
	want := fmt.Sprintf("999: from all lookup main suppress_prefixlength 1\n1000: from %s lookup 100\n1001: from %s lookup 101", lteAddr, wanAddr)
	r.waitFor("rules follow the new order", 20*time.Second, func() (bool, string) {
		got := r.sourceRules()
		return got == want && strings.Contains(r.table(100), "dev lte0") && strings.Contains(r.table(101), "dev wan0"), got
	})

	cfg["network"].(map[string]any)["modem"].(map[string]any)["enabled"] = false
	r.writeConfig(cfg)
	r.proc.Process.Signal(sighup)
	want = fmt.Sprintf("999: from all lookup main suppress_prefixlength 1\n1001: from %s lookup 101", wanAddr)
	r.waitFor("modem's rule and table gone", 20*time.Second, func() (bool, string) {
		got := r.sourceRules()
		return got == want && r.table(100) == "", got + "\n" + r.table(100)
	})
	if r.defaultRoute() != "wan0" {
		t.Errorf("default route %s after the modem was disabled", r.defaultRoute())
	}

	// A netctl killed without cleaning up leaves its rules; the next one
	// removes what it does not want. The leftover here: a rule and table
	// route of an uplink that is no longer configured.
	run(t, "ip", "-n", r.box, "rule", "add", "pref", "1003", "from", "10.2.0.99", "lookup", "103")
	run(t, "ip", "-n", r.box, "route", "add", "default", "via", lteNet+".1", "dev", "lte0", "table", "103", "onlink")
	r.proc.Process.Kill()
	<-r.procDone
	r.proc = nil
	r.startNetctl()
	r.waitFor("leftovers removed by the next netctl", 20*time.Second, func() (bool, string) {
		got := r.sourceRules()
		return strings.HasPrefix(got, "999: ") && strings.HasSuffix(got, " lookup 101") && !strings.Contains(got, "1003") && r.table(103) == "", got
	})
}
