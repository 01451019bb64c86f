package netctl_test

import (
	"fmt"
	"net"
	"testing"
	"time"
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
