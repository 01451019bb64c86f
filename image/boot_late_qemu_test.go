package image

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestQEMUBootWithoutTheLANDriver: init does not hold the firewall or the
// services until every boot module is in. The LAN card's driver (e1000e)
// is held back (edgebox.debug.late_module) until /healthz has answered on
// the box: were the boot firewall or any service waiting for it (or for
// the whole module batch), the box would never get there. Then the LAN
// port appears: netctl takes it (address, firewall LAN list) and the
// setup page answers through it, QEMU's host forward reaching the box on
// that port only.
func TestQEMUBootWithoutTheLANDriver(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "edgebox.debug.late_module=e1000e:2")
	b := bootBox(t, disk, false)
	vm := b.vm
	at, err := vm.WaitConsole("late kernel module loaded", 0, 4*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before := vm.Console()[:at]
	for _, want := range []string{"holding a kernel module back on purpose", "boot firewall loaded",
		"edgebox phase firewall", "edgebox phase service-up-netctl", "edgebox phase service-up-web",
		"edgebox phase service-up-gateway", "edgebox phase healthz"} {
		if !strings.Contains(before, want) {
			t.Errorf("%q is not on the console before the LAN driver was loaded", want)
		}
	}
	if strings.Contains(before, "msg=\"kernel modules loaded\"") {
		// Fine either way for the services; logged for the reader.
		t.Log("the rest of the first module batch was in before the services came up")
	}
	// From the start: netctl may log it before init's own line about the
	// module (the port registers during the insertion).
	if _, err := vm.WaitConsole("board port appeared; applying the config to it", 0, time.Minute); err != nil {
		t.Fatalf("netctl did not take the LAN port that appeared: %v", err)
	}
	h, _ := b.waitHealthy(3 * time.Minute) // through the late LAN port
	for _, s := range h.Services {
		if s.State != "running" || s.Restarts != 0 {
			t.Errorf("service %s %s, %d restarts", s.Name, s.State, s.Restarts)
		}
	}
	tail := vm.Console() // before the port: lan=[]
	if !regexp.MustCompile(`msg="firewall applied" uplinks=\S* lan=\[eth0\]`).MatchString(tail) {
		t.Errorf("netctl's firewall was not applied with the late LAN port eth0:\n%s", tail)
	}
}
