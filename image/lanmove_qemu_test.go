package image

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMULANAddressChangedFromLAN: the installer, on the LAN, changes the
// box's LAN address (the office uses 192.168.7.0/24). The save must be
// answered (not cut off by the move) and say where the box now is; the
// box still answers the laptop on the old address (its lease is in the
// old network) for a while; the laptop, asking DHCP again, gets an
// address in the new network and finds
// the box and its settings there, and the wizard's LAN step says so.
func TestQEMULANAddressChangedFromLAN(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	r := newFieldRig(t)
	fd := &fieldDay{t: t, r: r, disk: diskCopy(t, img, "")}
	fd.lan = testenv.HTTPClientIn(r.lan)
	r.startDHCP("dhcp-isp", r.inet, "wan0", fdWANNet)
	vm, err := StartVM(VMOptions{Disk: fd.disk, Netns: r.box, LANTap: "taplan", WANTap: "tapwan",
		ConsoleLog: filepath.Join(r.dir, "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	fd.vm = vm
	t.Cleanup(func() {
		if !vm.Exited() {
			vm.Kill()
		}
	})
	if _, err := r.lanDHCP(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.api("POST", "/api/v1/setup", map[string]string{"password": fdAdminPass}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fd.newToken(); err != nil {
		t.Fatal(err)
	}

	const newBox = "192.168.7.1"
	var saved json.RawMessage
	code, err := fd.api("POST", "/api/v1/config/set", map[string]any{"settings": map[string]any{"network.lan[0].address": newBox + "/24"}}, &saved)
	t.Logf("the save from the LAN: %d %v %s", code, err, saved)
	if err != nil {
		t.Errorf("saving the new LAN address from the LAN was not answered: %v", err)
	}
	var res struct {
		LANMoved []struct{ To, URL, Message string } `json:"lan_moved"`
	}
	json.Unmarshal(saved, &res)
	if len(res.LANMoved) != 1 || res.LANMoved[0].To != newBox || !strings.Contains(res.LANMoved[0].Message, "https://"+newBox+"/") {
		t.Errorf("the save's answer does not say where the box went: %s", saved)
	}
	// The laptop still holds its lease in the old network: the box keeps
	// answering there for a while (netapi.LANMoveGrace).
	var h health
	if _, err := fd.api("GET", "/healthz", nil, &h); err != nil || !h.OK {
		t.Errorf("the laptop with its old lease does not reach the box on its old address after the move: %v %+v", err, h)
	}

	// The installer unplugs and plugs the laptop (it asks DHCP again)
	// until it has an address in the new network.
	var addr string
	err = testenv.UntilEvery(2*time.Minute, 5*time.Second, "the laptop gets an address in 192.168.7.0/24", testenv.Why(func() (bool, string) {
		execOut("ip", "-n", r.lan, "addr", "flush", "dev", "lan0")
		a, err := r.lanDHCP(20 * time.Second)
		addr = a
		return err == nil && strings.HasPrefix(a, "192.168.7."), fmt.Sprintf("%q %v", a, err)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the laptop now has %s", addr)
	base := "https://" + newBox
	err = testenv.UntilEvery(2*time.Minute, time.Second, "the box answers on its new LAN address", testenv.Why(func() (bool, string) {
		var h health
		_, err := fd.call(fd.lan, base, "GET", "/healthz", nil, &h)
		return err == nil && h.OK, fmt.Sprintf("%v %+v", err, h)
	}))
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ State, Message string }
	if _, err := fd.call(fd.lan, base, "GET", "/api/v1/wizard/lan/check", nil, &c); err != nil || c.State != "ok" || !strings.Contains(c.Message, newBox) {
		t.Errorf("the wizard's LAN step on the new address: %+v %v", c, err)
	}
	var sys map[string]any
	if _, err := fd.call(fd.lan, base, "GET", "/api/v1/system", nil, &sys); err != nil {
		t.Errorf("the API on the new LAN address with the same token: %v", err)
	}
}
