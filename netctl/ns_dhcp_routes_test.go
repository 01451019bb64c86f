package netctl_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestNamespaceDHCPRoutesCannotStealLANOrVPN: the WAN's DHCP server (the
// ISP, or a rogue neighbour on the WAN segment) may give classless static
// routes (option 121), but none that takes traffic meant for the LAN or
// the VPN subnets away from their interfaces: a more specific route such
// as the LAN's lower half via the WAN would send the box's answers to LAN
// hosts (and the LAN's forwarded traffic) to the neighbour. Before the
// fix it was installed like any other route; an ordinary route of the
// lease still is.
func TestNamespaceDHCPRoutesCannotStealLANOrVPN(t *testing.T) {
	t.Parallel()
	r := newRig(t, "dr")
	gw := wanNet + ".253" // the neighbour: not the default gateway (.1)
	r.startDNSMasq("wanp", wanNet, "--dhcp-option=option:classless-static-route,"+
		"192.168.50.0/25,"+gw+",10.8.0.0/25,"+gw+",127.0.0.0/8,"+gw+",169.254.0.0/16,"+gw+","+
		"172.16.0.0/16,"+wanNet+".254,0.0.0.0/0,"+wanNet+".1")
	c := wanOnly()
	c["network"].(map[string]any)["firewall"].(map[string]any)["lan_to_vpn"] = []any{"10.8.0.0/24"}
	r.writeConfig(c)
	r.startNetctl()
	r.waitFor("WAN lease", 30*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.Active && u.Address != "", fmt.Sprintf("%+v", u)
	})
	via := func(ip string) string {
		rts, err := r.boxH.RouteGet(net.ParseIP(ip))
		if err != nil || len(rts) == 0 {
			return fmt.Sprint(err)
		}
		l, _ := r.boxH.LinkByIndex(rts[0].LinkIndex)
		if l == nil {
			return fmt.Sprintf("gw %v", rts[0].Gw)
		}
		return fmt.Sprintf("%s gw %v", l.Attrs().Name, rts[0].Gw)
	}
	r.waitFor("the lease's own route", 10*time.Second, func() (bool, string) {
		got := via("172.16.3.4")
		return got == "wan0 gw "+wanNet+".254", got
	})
	if got := via(lanHostAddr); got != "lan0 gw <nil>" {
		t.Errorf("route to the LAN host %s: %s, want lan0 (a DHCP route on the WAN took it)", lanHostAddr, got)
	}
	for _, dst := range []string{"10.8.0.9", "169.254.1.1"} {
		if got := via(dst); got == "wan0 gw "+gw {
			t.Errorf("route to %s: %s, want none of the WAN's DHCP routes", dst, got)
		}
	}
	if st := uplink(r.status(), "wan"); len(st.Routes) != 1 {
		t.Errorf("uplink status lists routes %v, want only 172.16.0.0/16", st.Routes)
	}
}

// TestNamespaceDHCPAddressInTheLANRefused: a DHCP server on the WAN that
// hands out an address inside the LAN's subnet (a rogue neighbour, or an
// ISP router on the same private range) does not get it configured: the
// WAN would then claim the LAN's subnet. Before the fix the address went
// on wan0 as given; now the uplink says why it is not used and the LAN
// keeps its route.
func TestNamespaceDHCPAddressInTheLANRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, "da")
	lanNet := lanBoxAddr[:strings.LastIndex(lanBoxAddr, ".")]
	run(t, "ip", "-n", r.inet, "addr", "add", lanNet+".254/24", "dev", "wanp")
	r.startDNSMasq("wanp", lanNet)
	r.writeConfig(wanOnly())
	r.startNetctl()
	r.waitFor("the WAN's lease refused", 30*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return strings.Contains(u.LastError, "LAN"), fmt.Sprintf("%+v", u)
	})
	link, err := r.boxH.LinkByName("wan0")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := r.boxH.AddrList(link, netlink.FAMILY_V4)
	for _, a := range addrs {
		if strings.HasPrefix(a.IP.String(), lanNet+".") {
			t.Errorf("wan0 got %s, an address in the LAN's subnet", a.IPNet)
		}
	}
	rts, _ := r.boxH.RouteGet(net.ParseIP(lanHostAddr))
	if len(rts) == 0 || rts[0].LinkIndex == link.Attrs().Index {
		t.Errorf("route to the LAN host: %v, want lan0", rts)
	}
}
