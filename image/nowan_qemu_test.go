package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestQEMUFixedLaptopNoWANDHCP: a site with no DHCP anywhere: the WAN
// cable is in but nobody answers the box's DHCP, and the installer's
// laptop has a fixed LAN address. The laptop must reach the box's page as
// soon as the box is up, and a laptop asking DHCP on the LAN later must
// get an address. The console and netctl's log are kept for a failure.
func TestQEMUFixedLaptopNoWANDHCP(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	r := newFieldRig(t)
	fd := &fieldDay{t: t, r: r, disk: diskCopy(t, img, "")}
	fd.lan = testenv.HTTPClientIn(r.lan)
	r.staticLAN()
	console := filepath.Join(r.dir, "console.log")
	vm, err := StartVM(VMOptions{Disk: fd.disk, Netns: r.box, LANTap: "taplan", WANTap: "tapwan", ConsoleLog: console})
	if err != nil {
		t.Fatal(err)
	}
	fd.vm = vm
	start := time.Now()
	t.Cleanup(func() {
		if !vm.Exited() {
			vm.Kill()
		}
		if t.Failed() {
			keep := filepath.Join(os.TempDir(), fmt.Sprintf("nowan-%d", time.Now().Unix()))
			os.MkdirAll(keep, 0o755)
			os.WriteFile(filepath.Join(keep, "console.log"), []byte(vm.Console()), 0o644)
			t.Logf("console kept in %s; evidence:\n%s", keep, fd.evidence())
		}
	})
	if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("the fixed-address laptop reached the box %v after power on", time.Since(start).Round(time.Second))
	// The box's LAN address is on its LAN card (e1000e, this MAC), not on
	// the WAN's virtio card: the kernel names them in the order their
	// drivers register, and the qemu board knows its ports by name.
	if neigh, _ := execOut("ip", "-n", r.lan, "neigh", "show", fdBoxLAN); !strings.Contains(neigh, qemuLANMAC) {
		t.Errorf("the laptop reaches %s at %q, want the LAN card's MAC %s", fdBoxLAN, strings.TrimSpace(neigh), qemuLANMAC)
	}
	if _, err := fd.api("POST", "/api/v1/setup", map[string]string{"password": fdAdminPass}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fd.newToken(); err != nil {
		t.Fatal(err)
	}
	// The installer switches the laptop to DHCP: the box's LAN serves it.
	execOut("ip", "-n", r.lan, "addr", "flush", "dev", "lan0")
	addr, err := r.lanDHCP(2 * time.Minute)
	if err != nil {
		t.Errorf("the LAN's DHCP: %v", err)
	}
	t.Logf("the laptop got %s", addr)
}
