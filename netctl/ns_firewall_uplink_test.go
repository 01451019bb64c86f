package netctl_test

import (
	"fmt"
	"testing"
	"time"
)

// TestNamespaceUplinkNeverTrusted: an uplink stays an uplink whatever else
// its name matches. Here firewall.vpn_interfaces has a pattern that also
// matches the wired WAN (a restore from another box, a typo): before the
// fix the trusted "VPN" accept came first and the whole internet reached
// the box's management ports and every other port on the WAN address.
// Only the uplink's open ports may answer there, nothing is forwarded in
// (not even to the LAN hosts vpn_to_lan opens); the LAN still reaches all.
func TestNamespaceUplinkNeverTrusted(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ut")
	c := staticConfig(boxWANAddr+"/24", "5061")
	fw := c["network"].(map[string]any)["firewall"].(map[string]any)
	fw["vpn_interfaces"] = []any{"tun*", "wan*"}
	fw["vpn_to_lan"] = []any{lanHostAddr + "/32"}
	r.writeConfig(c)
	r.routeLANOverWAN()
	serve(t, r.lanNS, "0.0.0.0:8082")
	serve(t, r.boxNS, "0.0.0.0:80")
	serve(t, r.boxNS, "0.0.0.0:8081")
	serve(t, r.boxNS, "0.0.0.0:5061")
	r.startNetctl()
	r.waitFor("netctl's table", 20*time.Second, func() (bool, string) {
		fw := r.status().Firewall
		return fw.Applied, fmt.Sprintf("%+v", fw)
	})
	r.waitFor("the open port from the internet", 10*time.Second, func() (bool, string) {
		_, err := dialFrom(r.inetNS, boxWANAddr+":5061", time.Second)
		return err == nil, fmt.Sprint(err)
	})
	for _, a := range []string{boxWANAddr + ":80", boxWANAddr + ":8081"} {
		if got, err := dialFrom(r.inetNS, a, 2*time.Second); err == nil {
			t.Errorf("the internet reached %s over a WAN that also matches a VPN pattern (%q), want dropped", a, got)
		}
	}
	// Nor is anything forwarded in from the uplink, even to a LAN host
	// the "VPN" may reach.
	if got, err := dialFrom(r.inetNS, lanHostAddr+":8082", 2*time.Second); err == nil {
		t.Errorf("the internet reached the LAN host %s through the box (%q), want dropped", lanHostAddr, got)
	}
	if _, err := dialFrom(r.lanNS, lanBoxAddr+":80", 5*time.Second); err != nil {
		t.Errorf("LAN client cannot reach the web port: %v", err)
	}
}
