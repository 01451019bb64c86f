package netctl_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// dhcpExtra makes renewals fast (T1 5s, T2 10s of dnsmasq's minimum 2m
// lease) and adds MTU and a classless static route to the lease.
var dhcpExtra = []string{"--dhcp-option=option:T1,5", "--dhcp-option=option:T2,10",
	"--dhcp-option=option:mtu,1400",
	"--dhcp-option=option:classless-static-route,172.16.0.0/16," + wanNet + ".254,0.0.0.0/0," + wanNet + ".1"}

// wanOnly is the config with just the wired WAN uplink.
func wanOnly() map[string]any {
	c := baseConfig()
	n := c["network"].(map[string]any)
	n["uplinks"] = []any{"wan"}
	n["modem"] = map[string]any{"enabled": false}
	return c
}

func countACKs(log, iface string) int {
	return strings.Count(log, "DHCPACK("+iface+")")
}

// TestNamespaceDHCPLeaseRenewExpireRecover: the wired WAN gets a lease from
// dnsmasq; address, default route, classless route, MTU and DNS are
// installed; the lease is renewed at T1; with dnsmasq gone the lease
// expires, the address goes and the uplink is down; with dnsmasq back the
// uplink recovers by itself.
func TestNamespaceDHCPLeaseRenewExpireRecover(t *testing.T) {
	t.Parallel()
	r := newRig(t, "dh")
	r.startDNSMasq("wanp", wanNet, dhcpExtra...)
	r.writeConfig(wanOnly())
	r.startNetctl()

	r.waitFor("WAN lease", 30*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.State == "healthy" && u.Active && u.Address != "", fmt.Sprintf("%+v", u)
	})
	st := r.status()
	u := uplink(st, "wan")
	if !strings.HasPrefix(u.Address, wanNet+".") || !strings.HasSuffix(u.Address, "/24") {
		t.Errorf("address %q not from the DHCP range", u.Address)
	}
	if u.Gateway != wanNet+".1" {
		t.Errorf("gateway %q, want %s.1 (from option 121's default route)", u.Gateway, wanNet)
	}
	if u.MTU != 1400 || u.DHCP == nil || u.DHCP.LeaseSec != 120 || u.DHCP.Server != wanNet+".1" {
		t.Errorf("lease details: mtu %d dhcp %+v", u.MTU, u.DHCP)
	}
	if got := u.DHCP.RenewAt.Sub(u.DHCP.Acquired); got != 5*time.Second {
		t.Errorf("T1 = %v, want 5s from option 58", got)
	}
	// Kernel state in the box namespace.
	link, err := r.boxH.LinkByName("wan0")
	if err != nil {
		t.Fatal(err)
	}
	if link.Attrs().MTU != 1400 {
		t.Errorf("wan0 MTU %d, want 1400", link.Attrs().MTU)
	}
	addrs, _ := r.boxH.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != u.Address {
		t.Errorf("wan0 addresses %v, want %s", addrs, u.Address)
	}
	if dev := r.defaultRoute(); dev != "wan0" {
		t.Errorf("route to the internet via %q, want wan0", dev)
	}
	rts, _ := r.boxH.RouteGet(net.ParseIP("172.16.3.4"))
	if len(rts) == 0 || rts[0].Gw.String() != wanNet+".254" {
		t.Errorf("classless static route 172.16.0.0/16 via %s.254 missing: %v", wanNet, rts)
	}
	resolv, _ := os.ReadFile(r.resolv)
	if !strings.Contains(string(resolv), "nameserver "+wanNet+".53") {
		t.Errorf("resolv.conf lacks the lease's DNS:\n%s", resolv)
	}

	// Renewal at T1, seen by dnsmasq and counted by netctl.
	r.waitFor("renewal", 30*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.DHCP != nil && u.DHCP.Renewals >= 1 && countACKs(r.dnsmasqLogs["wanp"].String(), "wanp") >= 2,
			fmt.Sprintf("renewals %+v acks %d", u.DHCP, countACKs(r.dnsmasqLogs["wanp"].String(), "wanp"))
	})
	if u := uplink(r.status(), "wan"); u.Address != uplink(st, "wan").Address {
		t.Errorf("renewal changed the address: %s -> %s", uplink(st, "wan").Address, u.Address)
	}

	// dnsmasq gone: renew and rebind fail, the lease expires (2 min after
	// the last renewal), the address is removed and the uplink goes down.
	r.stopDNSMasq("wanp")
	lost := time.Now()
	r.waitFor("rebinding", 30*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.DHCP != nil && u.DHCP.State == "rebinding", fmt.Sprintf("%+v", u.DHCP)
	})
	r.waitFor("lease expiry", 150*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.Address == "" && !u.Active && u.State == "configuring", fmt.Sprintf("%s %s active=%v", u.State, u.Address, u.Active)
	})
	t.Logf("lease expired %v after dnsmasq stopped", time.Since(lost).Round(time.Second))
	addrs, _ = r.boxH.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 0 {
		t.Errorf("expired address still on wan0: %v", addrs)
	}
	if dev := r.defaultRoute(); dev == "wan0" {
		t.Errorf("default route still via wan0 after expiry")
	}
	if st := r.status(); st.Active != "" {
		t.Errorf("active uplink %q with no lease", st.Active)
	}

	// dnsmasq back: the client's DISCOVER retries find it.
	r.startDNSMasq("wanp", wanNet, dhcpExtra...)
	r.waitFor("recovery", 60*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.Active && u.State == "healthy" && r.defaultRoute() == "wan0", fmt.Sprintf("%+v", u)
	})
}
