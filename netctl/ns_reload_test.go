package netctl_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func staticConfig(addr string, openTCP ...any) map[string]any {
	c := wanOnly()
	n := c["network"].(map[string]any)
	n["wan"] = map[string]any{"enabled": true, "method": "static", "address": addr, "gateway": wanNet + ".1", "dns": []any{"10.1.0.53"}}
	fw := n["firewall"].(map[string]any)
	fw["open_tcp"] = openTCP
	return c
}

// TestNamespaceStaticWANAndReload: a static WAN comes up with its address,
// gateway and DNS; a changed config (address, firewall port) applies on
// SIGHUP without a restart; a bad config is refused with a message naming
// the field and the running config stays.
func TestNamespaceStaticWANAndReload(t *testing.T) {
	t.Parallel()
	r := newRig(t, "rl")
	serve(t, r.boxNS, "0.0.0.0:8081")
	r.writeConfig(staticConfig(wanNet + ".20/24"))
	r.startNetctl()
	r.waitFor("static WAN", 20*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.Active && u.Address == wanNet+".20/24" && u.Gateway == wanNet+".1" && r.defaultRoute() == "wan0", fmt.Sprintf("%+v", u)
	})
	if _, err := dialFrom(r.inetNS, wanNet+".20:8081", time.Second); err == nil {
		t.Error("port 8081 reachable from the internet before it was opened")
	}
	pid := r.proc.Process.Pid

	// The VPN manager is mounted on netctl's socket and told which uplink is up.
	var vpn struct {
		State  string `json:"state"`
		Uplink string `json:"uplink"`
	}
	r.waitFor("vpn status on netctl's socket", 10*time.Second, func() (bool, string) {
		err := r.client.Get(context.Background(), "/v1/vpn/status", &vpn)
		return err == nil && vpn.Uplink == "wan", fmt.Sprintf("%+v %v", vpn, err)
	})

	// edgectl shows the same through the socket (EDGEBOX_RUN_DIR points it there).
	edgectl := filepath.Join(t.TempDir(), "edgectl")
	if out, err := exec.Command("go", "build", "-o", edgectl, "edgebox/cmd/edgectl").CombinedOutput(); err != nil {
		t.Fatalf("build edgectl: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"uplinks"}, {"net"}, {"--json", "uplinks"}} {
		cmd := exec.Command(edgectl, args...)
		cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+r.dir)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), wanNet+".20/24") || !strings.Contains(string(out), "wan0") {
			t.Errorf("edgectl %v: %v\n%s", args, err, out)
		}
	}

	r.writeConfig(staticConfig(wanNet+".21/24", "8081"))
	r.proc.Process.Signal(sighup)
	r.waitFor("new address", 20*time.Second, func() (bool, string) {
		u := uplink(r.status(), "wan")
		return u.Active && u.Address == wanNet+".21/24" && r.defaultRoute() == "wan0", u.Address
	})
	r.waitFor("opened port", 10*time.Second, func() (bool, string) {
		_, err := dialFrom(r.inetNS, wanNet+".21:8081", time.Second)
		return err == nil, fmt.Sprint(err)
	})
	addrs := run(t, "ip", "-n", r.box, "-4", "-o", "addr", "show", "dev", "wan0")
	if strings.Contains(addrs, wanNet+".20/") {
		t.Errorf("old address left on wan0:\n%s", addrs)
	}

	bad := staticConfig("not-an-address")
	r.writeConfig(bad)
	r.proc.Process.Signal(sighup)
	r.waitFor("rejection logged", 10*time.Second, func() (bool, string) {
		return strings.Contains(r.log.String(), "config rejected") && strings.Contains(r.log.String(), "network.wan.address"), ""
	})
	time.Sleep(500 * time.Millisecond)
	if u := uplink(r.status(), "wan"); u.Address != wanNet+".21/24" || !u.Active {
		t.Errorf("running config not kept after a bad one: %+v", u)
	}
	if r.proc.Process.Pid != pid {
		t.Error("netctl restarted")
	}
	select {
	case <-r.procDone:
		t.Fatal("netctl exited on a bad config")
	default:
	}
}
