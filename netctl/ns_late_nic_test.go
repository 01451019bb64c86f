package netctl_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/boards"
	"edgebox/internal/testenv"
)

// TestNamespaceLateBoardPorts: init starts the services while the NIC
// drivers still load, so netctl may start before the board's LAN and WAN
// ports exist. It is started here with neither port present and no
// --iface flags (the roles come from the board profile and sysfs, as on a
// box); then both ports appear (moved into the box's namespace, as a
// driver registering them would). The LAN port must get its address and
// be the firewall's LAN (the LAN host reaches the box's management port),
// the WAN must get its DHCP lease and stay untrusted (the internet side
// does not reach that port). Before netctl looked the roles up again on a
// new link, both ports stayed unnamed: no address, LAN dropped.
func TestNamespaceLateBoardPorts(t *testing.T) {
	t.Parallel()
	board, _, _ := boards.Detect(boards.ReadDMI("/sys"), "")
	names := map[string]string{}
	for _, n := range board.NICs {
		names[n.Role] = n.Name
	}
	wanIf, lanIf := names["wan"], names["lan1"]
	if wanIf == "" || lanIf == "" {
		t.Skipf("board %s names no wan and lan1 ports by kernel name", board.Name)
	}
	r := newRig(t, "ln")
	// The rig's wan0 and lan0 go; the ports are made in a holding
	// namespace under the board's names, wired to the same peers.
	run(t, "ip", "-n", r.box, "link", "del", "wan0")
	run(t, "ip", "-n", r.box, "link", "del", "lan0")
	hold := testenv.NewNetns(t, "nh"+testenv.UniqueName("ln"))
	run(t, "ip", "link", "add", wanIf, "netns", hold.Name, "type", "veth", "peer", "name", "wanp", "netns", r.inet)
	run(t, "ip", "link", "add", lanIf, "netns", hold.Name, "type", "veth", "peer", "name", "lanc", "netns", r.lan)
	run(t, "ip", "-n", r.inet, "addr", "add", wanNet+".1/24", "dev", "wanp")
	run(t, "ip", "-n", r.inet, "link", "set", "wanp", "up")
	run(t, "ip", "-n", r.lan, "addr", "add", lanHostAddr+"/24", "dev", "lanc")
	run(t, "ip", "-n", r.lan, "link", "set", "lanc", "up")
	run(t, "ip", "-n", r.lan, "route", "add", "default", "via", lanBoxAddr)
	r.startDNSMasq("wanp", wanNet)

	cfg := baseConfig()
	network := cfg["network"].(map[string]any)
	network["uplinks"] = []any{"wan"}
	network["modem"] = map[string]any{"enabled": false}
	r.writeConfig(cfg)
	r.startNetctlBoardRoles()
	st := r.status()
	if len(st.LAN) != 1 || st.LAN[0].Address != "" {
		t.Fatalf("LAN before its port exists: %+v", st.LAN)
	}

	// The drivers register the ports.
	run(t, "ip", "-n", hold.Name, "link", "set", lanIf, "netns", r.box)
	run(t, "ip", "-n", hold.Name, "link", "set", wanIf, "netns", r.box)
	r.waitFor("the late LAN port addressed and in the firewall's LAN", 20*time.Second, func() (bool, string) {
		st := r.status()
		ok := len(st.LAN) == 1 && st.LAN[0].Interface == lanIf && st.LAN[0].Address == lanBoxAddr+"/24" &&
			slices.Contains(st.Firewall.LAN, lanIf) && st.Firewall.Applied
		return ok, fmt.Sprintf("lan %+v firewall %+v", st.LAN, st.Firewall)
	})
	r.waitFor("the late WAN port's lease", 60*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.Interface == wanIf && u.Address != "", fmt.Sprintf("wan %+v", u)
	})
	st = r.status()
	if !slices.Contains(st.Firewall.Uplinks, wanIf) || slices.Contains(st.Firewall.LAN, wanIf) {
		t.Errorf("firewall %+v: %s must be an uplink, not LAN", st.Firewall, wanIf)
	}

	// A management port on the box: the LAN reaches it, the WAN side not.
	serve(t, r.boxNS, "0.0.0.0:22")
	if got, err := dialFrom(r.lanNS, lanBoxAddr+":22", 3*time.Second); err != nil || got != lanHostAddr {
		t.Errorf("LAN host to the box's port 22: %q %v", got, err)
	}
	wanAddr, _, _ := strings.Cut(uplink(r.status(), "wan").Address, "/")
	if got, err := dialFrom(r.inetNS, wanAddr+":22", 2*time.Second); err == nil {
		t.Errorf("the internet side reached the box's port 22 on the late WAN port (%q)", got)
	}
}

// startNetctlBoardRoles is startNetctl without --iface: the ports are the
// board profile's, found in the box namespace's sysfs (ip netns exec
// mounts one for it).
func (r *rig) startNetctlBoardRoles() {
	r.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", r.box, netctlBinary(r.t), "--debug",
		"--config", r.cfgPath, "--socket", r.sock, "--resolv-conf", r.resolv,
		"--sms-dir", filepath.Join(r.dir, "sms"), "--no-vpn")
	cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+r.dir, "EDGEBOX_PERM_DIR="+r.dir)
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.proc = cmd
	r.procDone = make(chan struct{})
	go func() { cmd.Wait(); close(r.procDone) }()
	r.t.Cleanup(func() {
		r.stopNetctl()
		if r.t.Failed() {
			r.t.Logf("netctl log:\n%s", r.log.String())
		}
	})
	r.waitFor("API socket", 20*time.Second, func() (bool, string) {
		_, err := r.client.Status(context.Background())
		return err == nil, fmt.Sprint(err)
	})
}
