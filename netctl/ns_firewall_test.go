package netctl_test

import (
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"edgebox/internal/config"
	"edgebox/internal/firewall"
	"edgebox/internal/testenv"
)

const boxWANAddr = wanNet + ".20"

// routeLANOverWAN makes the internet namespace a WAN neighbour that sends
// packets for the box's LAN subnet over the WAN link (Linux's weak-host
// model would answer them).
func (r *rig) routeLANOverWAN() {
	run(r.t, "ip", "-n", r.inet, "route", "add", lanBoxAddr[:strings.LastIndex(lanBoxAddr, ".")]+".0/24", "via", boxWANAddr, "dev", "wanp")
}

// TestNamespaceBootFirewallWANNeighbour: a WAN neighbour that routes to the
// box's LAN address over the WAN link reaches the box's web port when no
// table is loaded, is refused under init's boot table (loaded by the same
// functions init calls) with no netctl running, stays refused while netctl
// replaces that table and reloads, and after netctl stops. The LAN reaches
// the web port throughout.
func TestNamespaceBootFirewallWANNeighbour(t *testing.T) {
	t.Parallel()
	r := newRig(t, "bf")
	r.writeConfig(staticConfig(boxWANAddr + "/24"))
	// What init finds at boot: addresses not yet set by netctl do not
	// matter to the attack, so set them as netctl would.
	run(t, "ip", "-n", r.box, "addr", "add", boxWANAddr+"/24", "dev", "wan0")
	run(t, "ip", "-n", r.box, "addr", "add", lanBoxAddr+"/24", "dev", "lan0")
	run(t, "ip", "-n", r.box, "link", "set", "wan0", "up")
	run(t, "ip", "-n", r.box, "link", "set", "lan0", "up")
	r.routeLANOverWAN()
	serve(t, r.boxNS, "0.0.0.0:80")
	serve(t, r.boxNS, "0.0.0.0:8081")

	wanSide := []string{lanBoxAddr + ":80", boxWANAddr + ":80", lanBoxAddr + ":8081"}
	// Without any table the attack works: the test can see a refusal.
	r.waitFor("WAN neighbour reaches the LAN address with no firewall", 10*time.Second, func() (bool, string) {
		_, err := dialFrom(r.inetNS, lanBoxAddr+":80", time.Second)
		return err == nil, fmt.Sprint(err)
	})

	r.bootFirewall()
	check := func(when string) {
		t.Helper()
		for _, a := range wanSide {
			if got, err := dialFrom(r.inetNS, a, 2*time.Second); err == nil {
				t.Errorf("%s: WAN neighbour reached %s (%q), want dropped", when, a, got)
			}
		}
		if _, err := dialFrom(r.lanNS, lanBoxAddr+":80", 5*time.Second); err != nil {
			t.Errorf("%s: LAN client cannot reach the web port: %v", when, err)
		}
	}
	check("boot table, netctl not running")
	if _, err := dialFrom(r.lanNS, lanBoxAddr+":8081", 2*time.Second); err == nil {
		t.Error("boot table lets the LAN reach port 8081, want management, DHCP and DNS only")
	}

	// netctl takes over while a WAN neighbour keeps knocking: not one
	// connection may get through during the replacement or the reloads.
	var through atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := dialFrom(r.inetNS, lanBoxAddr+":80", 300*time.Millisecond); err == nil {
				through.Add(1)
			}
		}
	}()
	r.startNetctl()
	r.waitFor("netctl's table", 20*time.Second, func() (bool, string) {
		fw := r.status().Firewall
		return fw.Applied, fmt.Sprintf("%+v", fw)
	})
	for _, port := range []string{"5061", "5062"} { // each reload replaces the table
		before := r.status().Firewall.AppliedAt
		r.writeConfig(staticConfig(boxWANAddr+"/24", port))
		r.proc.Process.Signal(sighup)
		r.waitFor("reloaded table", 20*time.Second, func() (bool, string) {
			return r.status().Firewall.AppliedAt.After(before), ""
		})
	}
	close(stop)
	<-done
	if n := through.Load(); n > 0 {
		t.Errorf("%d connections from the WAN neighbour got through while netctl replaced the boot table", n)
	}
	check("netctl running")
	if out := strings.TrimSpace(run(t, "ip", "netns", "exec", r.box, "nft", "list", "tables")); out != "table inet edgebox" {
		t.Errorf("tables after netctl took over:\n%s", out)
	}
	r.stopNetctl()
	check("netctl stopped")
}

// TestNamespaceVPNLANForwarding: by default a VPN client reaches the box's
// management (on its tunnel address and on the LAN address) but no LAN
// host, and a LAN host cannot reach the VPN; firewall.vpn_to_lan and
// firewall.lan_to_vpn open exactly the subnets they name, each direction
// on its own.
func TestNamespaceVPNLANForwarding(t *testing.T) {
	t.Parallel()
	r := newRig(t, "vf")
	// The VPN: a veth named like openvpn's tun device, its far end in a
	// namespace of its own playing an admin's machine behind the tunnel.
	vpnNS := "nv" + r.box[2:]
	run(t, "ip", "netns", "add", vpnNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", vpnNS).Run() })
	run(t, "ip", "link", "add", "tun7", "netns", r.box, "type", "veth", "peer", "name", "vpnc", "netns", vpnNS)
	run(t, "ip", "-n", r.box, "addr", "add", "10.8.0.1/24", "dev", "tun7")
	run(t, "ip", "-n", r.box, "link", "set", "tun7", "up")
	run(t, "ip", "-n", vpnNS, "addr", "add", "10.8.0.2/24", "dev", "vpnc")
	run(t, "ip", "-n", vpnNS, "link", "set", "vpnc", "up")
	run(t, "ip", "-n", vpnNS, "link", "set", "lo", "up")
	run(t, "ip", "-n", vpnNS, "route", "add", "default", "via", "10.8.0.1")
	vpn, err := netns.GetFromName(vpnNS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vpn.Close() })

	serve(t, r.boxNS, "0.0.0.0:80")
	serve(t, r.lanNS, "0.0.0.0:8080")
	serve(t, vpn, "0.0.0.0:8080")
	cfg := func(vpnToLAN, lanToVPN []any) map[string]any {
		c := staticConfig(boxWANAddr + "/24")
		fw := c["network"].(map[string]any)["firewall"].(map[string]any)
		fw["vpn_to_lan"], fw["lan_to_vpn"] = vpnToLAN, lanToVPN
		return c
	}
	r.writeConfig(cfg(nil, nil))
	r.startNetctl()
	r.waitFor("firewall", 20*time.Second, func() (bool, string) { return r.status().Firewall.Applied, "" })
	reload := func(c map[string]any) {
		before := r.status().Firewall.AppliedAt
		r.writeConfig(c)
		r.proc.Process.Signal(sighup)
		r.waitFor("reloaded table", 20*time.Second, func() (bool, string) {
			return r.status().Firewall.AppliedAt.After(before), ""
		})
	}
	expect := func(when string, from netns.NsHandle, name, addr string, open bool) {
		t.Helper()
		got, err := dialFrom(from, addr, 2*time.Second)
		if open && err != nil {
			t.Errorf("%s: %s -> %s: %v, want reachable", when, name, addr, err)
		}
		if !open && err == nil {
			t.Errorf("%s: %s -> %s answered (%q), want dropped", when, name, addr, got)
		}
	}
	lanHost, vpnHost := lanHostAddr+":8080", "10.8.0.2:8080"

	expect("default", vpn, "VPN", "10.8.0.1:80", true)
	expect("default", vpn, "VPN", lanBoxAddr+":80", true)
	expect("default", vpn, "VPN", lanHost, false)
	expect("default", r.lanNS, "LAN", vpnHost, false)

	reload(cfg([]any{lanHostAddr + "/32"}, nil))
	expect("vpn_to_lan", vpn, "VPN", lanHost, true)
	expect("vpn_to_lan", r.lanNS, "LAN", vpnHost, false)

	reload(cfg(nil, []any{"10.8.0.0/24"}))
	expect("lan_to_vpn", vpn, "VPN", lanHost, false)
	expect("lan_to_vpn", r.lanNS, "LAN", vpnHost, true)
}

// bootFirewall runs in the box what init's bootFirewall runs, with the
// config written and the roles it finds on this "board".
func (r *rig) bootFirewall() {
	r.t.Helper()
	c, err := config.Load(r.cfgPath)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := testenv.DoInHandle(r.boxNS, func() error {
		_, err := firewall.Boot(c.Network, map[string]string{"wan": "wan0", "lan1": "lan0"})
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
}
