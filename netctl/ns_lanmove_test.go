package netctl_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
)

// TestNamespaceLANMoveKeepsOldAddressForAWhile: the admin moves the LAN
// from 192.168.50.1/24 to 192.168.60.1/24 while a laptop holds a lease in
// the old network. The box takes the new address at once and keeps the
// old one, deprecated, for netapi.LANMoveGrace: the laptop still reaches
// the box there. Before, the old address was removed at once and the
// laptop had no route to the box until its lease (12 h) ran out or it
// was plugged in again.
func TestNamespaceLANMoveKeepsOldAddressForAWhile(t *testing.T) {
	t.Parallel()
	r := newRig(t, "lm")
	serve(t, r.boxNS, "0.0.0.0:8082")
	cfg := baseConfig()
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("LAN address", 20*time.Second, func() (bool, string) {
		st := r.status()
		return len(st.LAN) == 1 && st.LAN[0].Address == lanBoxAddr+"/24", fmt.Sprintf("%+v", st.LAN)
	})
	if seen, err := dialFrom(r.lanNS, lanBoxAddr+":8082", 5*time.Second); err != nil || seen != lanHostAddr {
		t.Fatalf("the laptop does not reach the box before the move: %q %v", seen, err)
	}

	const moved = "192.168.60.1"
	cfg["network"].(map[string]any)["lan"] = []any{map[string]any{"role": "lan1", "address": moved + "/24"}}
	r.writeConfig(cfg)
	r.proc.Process.Signal(sighup)
	r.waitFor("the new LAN address", 20*time.Second, func() (bool, string) {
		st := r.status()
		return len(st.LAN) == 1 && st.LAN[0].Address == moved+"/24", fmt.Sprintf("%+v", st.LAN)
	})
	addrs := run(t, "ip", "-n", r.box, "-4", "-o", "addr", "show", "dev", "lan0")
	var old, cur string
	for _, l := range strings.Split(addrs, "\n") {
		if strings.Contains(l, lanBoxAddr+"/24") {
			old = l
		}
		if strings.Contains(l, moved+"/24") {
			cur = l
		}
	}
	if cur == "" || !strings.Contains(cur, "valid_lft forever") {
		t.Errorf("the new address is not on lan0 for good:\n%s", addrs)
	}
	grace := fmt.Sprint(int(netapi.LANMoveGrace / time.Second))
	if old == "" || !strings.Contains(old, "deprecated") || strings.Contains(old, "valid_lft forever") {
		t.Errorf("the old address is not kept, deprecated and expiring (within %ss):\n%s", grace, addrs)
	}
	// The laptop with its old lease still reaches the box.
	if seen, err := dialFrom(r.lanNS, lanBoxAddr+":8082", 5*time.Second); err != nil || seen != lanHostAddr {
		t.Errorf("the laptop with a lease in the old network does not reach the box on its old address: %q %v", seen, err)
	}
	// A reload that changes nothing does not make it permanent again, nor
	// start its time again; moving back makes it permanent.
	cfg["network"].(map[string]any)["lan"] = []any{map[string]any{"role": "lan1", "address": lanBoxAddr + "/24"}}
	r.writeConfig(cfg)
	r.proc.Process.Signal(sighup)
	r.waitFor("moved back", 20*time.Second, func() (bool, string) {
		a := run(t, "ip", "-n", r.box, "-4", "-o", "addr", "show", "dev", "lan0")
		for _, l := range strings.Split(a, "\n") {
			if strings.Contains(l, lanBoxAddr+"/24") {
				return strings.Contains(l, "valid_lft forever") && strings.Contains(l, "preferred_lft forever"), a
			}
		}
		return false, a
	})
}
