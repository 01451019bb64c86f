package image

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQEMUDamagedConfigRunsOnThePrevious: the settings were saved twice,
// then the disk lost the last write (config.json on /perm left empty, as
// a power cut in the middle of a save on a card that lies about its
// flushes leaves it). The next boot must come up whole on the previous
// settings and say so, not with netctl refusing to start (before: a
// crash loop, no LAN address, the box out of reach).
func TestQEMUDamagedConfigRunsOnThePrevious(t *testing.T) {
	parallelQEMU(t)
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Fatalf("debugfs (Debian package e2fsprogs, scripts/deps.sh) is missing: %v", err)
	}
	disk := diskCopy(t, builtImage(t), "")
	b := bootBox(t, disk, false)
	b.waitHealthy(4 * time.Minute)
	tok := b.adminToken()
	for _, apn := range []string{"site-apn", "later-apn"} {
		if _, err := b.call("POST", "/api/v1/config/set", tok, map[string]any{"settings": map[string]any{"network.modem.apn": apn}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.call("POST", "/api/v1/system/poweroff", tok, struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.vm.Wait(2 * time.Minute); err != nil {
		t.Fatalf("did not power off: %v", err)
	}
	emptyPermFile(t, disk, "edgebox/config.json")

	b2 := bootBox(t, disk, false)
	b2.waitHealthy(4 * time.Minute) // every service runs, netctl too
	tok = b2.token("installer-secret-1")
	var sys struct {
		ConfigNote string `json:"config_note"`
	}
	if _, err := b2.call("GET", "/api/v1/system", tok, nil, &sys); err != nil || !strings.Contains(sys.ConfigNote, "damaged") || !strings.Contains(sys.ConfigNote, "previous settings") {
		t.Errorf("the box does not say its config was damaged: %q %v", sys.ConfigNote, err)
	}
	var v struct {
		Value any `json:"value"`
	}
	if _, err := b2.call("GET", "/api/v1/config?path=network.modem.apn", tok, nil, &v); err != nil || v.Value != "site-apn" {
		t.Errorf("the APN after the damage: %v %v, want the previous settings' site-apn", v.Value, err)
	}
}

// emptyPermFile empties a file on the disk's perm partition (the third)
// with debugfs, as a lost write leaves it: the partition is copied out,
// changed and written back.
func emptyPermFile(t *testing.T, disk, name string) {
	t.Helper()
	part := filepath.Join(t.TempDir(), "perm.ext4")
	const permStart = (alignMiB + 2*slotMiB) << 20
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("dd", "if="+disk, "of="+part, "bs=1M", fmt.Sprintf("skip=%d", permStart>>20), fmt.Sprintf("count=%d", permMiB), "status=none")
	cmds := filepath.Join(t.TempDir(), "cmds")
	os.WriteFile(cmds, []byte(fmt.Sprintf("rm %s\nwrite /dev/null %s\n", name, name)), 0o644)
	run("debugfs", "-w", "-f", cmds, part)
	out, _ := exec.Command("debugfs", "-R", "stat "+name, part).CombinedOutput()
	if !strings.Contains(string(out), "Size: 0") {
		t.Fatalf("%s not emptied on the perm partition:\n%s", name, out)
	}
	run("dd", "if="+part, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", permStart>>20), "conv=notrunc", "status=none")
}
