package image

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/update"
)

// QEMU tests of updates (docs/updates.md): the real disk image, bundles
// made from the same out/ kernel and initramfs with a different version
// file (and test hooks on the kernel command line), installed through the
// web upload exactly as an admin would.

// variantBundle builds a bundle of out/'s kernel and initramfs that reports
// version, with extra kernel arguments, signed with out/keys.
func variantBundle(t testing.TB, version, extra string, boards []string) string {
	t.Helper()
	dir := os.Getenv("EDGEBOX_IMAGE_DIR")
	work := t.TempDir()
	initrd := filepath.Join(work, "initramfs.cpio.gz")
	if err := AppendInitramfs(filepath.Join(dir, "initramfs.cpio.gz"), initrd, map[string]string{"etc/edgebox/version": version + "\n"}); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(KeysDir(dir), "*.key"))
	if len(names) == 0 {
		t.Fatalf("no signing key in %s: the image was built without one", KeysDir(dir))
	}
	keys, err := SigningKeys(KeysDir(dir), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, version+".bundle")
	if _, err := MakeBundle(context.Background(), BundleOptions{Work: filepath.Join(work, "b"), Kernel: filepath.Join(dir, "vmlinuz"),
		Initramfs: initrd, Version: version, Extra: extra, Boards: boards, Keys: keys, Out: out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return out
}

// adminToken sets the admin password on first boot and returns a token.
func (b *box) adminToken() string {
	b.t.Helper()
	if _, err := b.call("POST", "/api/v1/setup", "", map[string]string{"password": "installer-secret-1"}, nil); err != nil {
		b.t.Fatal(err)
	}
	return b.token("installer-secret-1")
}

func (b *box) token(password string) string {
	b.t.Helper()
	// Firmware needs an admin token; new tokens are read-only unless asked.
	req, _ := http.NewRequest("POST", b.https+"/api/v1/tokens", strings.NewReader(`{"name":"update-test","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", password)
	resp, err := b.client().Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.Token == "" {
		b.t.Fatalf("no token: %s", resp.Status)
	}
	return tok.Token
}

// upload posts a bundle (or its first n bytes) to the web's firmware
// upload, streaming progress; onProgress may stop early by returning false.
func (b *box) upload(tok string, data []byte, reboot bool, onProgress func(update.Progress) bool) (*update.Result, error) {
	path := b.https + "/api/v1/firmware"
	if reboot {
		path += "?reboot=1"
	}
	req, _ := http.NewRequest("POST", path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Accept", "application/x-ndjson")
	c := *b.client() // the box's client is shared: a longer wait for this request only
	c.Timeout = 5 * time.Minute
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %s", resp.Status, body)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p update.Progress
		json.Unmarshal(sc.Bytes(), &p)
		if onProgress != nil && !onProgress(p) {
			return nil, fmt.Errorf("stopped at %+v", p)
		}
		if p.Error != "" {
			return nil, fmt.Errorf("%s", p.Error)
		}
		if p.Result != nil {
			return p.Result, nil
		}
	}
	return nil, fmt.Errorf("no result: %v", sc.Err())
}

type systemView struct {
	Slot           string `json:"slot"`
	Version        string `json:"version"`
	Confirmed      bool   `json:"confirmed"`
	RollbackReason string `json:"rollback_reason"`
}

func (b *box) system(tok string) systemView {
	b.t.Helper()
	var s systemView
	if _, err := b.call("GET", "/api/v1/system", tok, nil, &s); err != nil {
		b.t.Fatal(err)
	}
	return s
}

func slotHash(t *testing.T, disk, slot string) [32]byte {
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, slotMiB<<20)
	f.ReadAt(buf, slotOffset(slot))
	return sha256.Sum256(buf)
}

func TestQEMUUpdateConfirmedKeepsConfig(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	bundle := variantBundle(t, "test-v2-good", "", nil)
	b := bootBox(t, disk, false)
	b.waitHealthy(3 * time.Minute)
	tok := b.adminToken()
	if _, err := b.call("POST", "/api/v1/config/set", tok, map[string]any{"settings": map[string]any{"system.timezone": "Europe/Berlin"}}, nil); err != nil {
		t.Fatal(err)
	}
	if s := b.system(tok); s.Slot != "A" || !s.Confirmed {
		t.Fatalf("before the update: %+v", s)
	}
	data, _ := os.ReadFile(bundle)
	phases := map[string]bool{}
	res, err := b.upload(tok, data, true, func(p update.Progress) bool { phases[p.Phase] = true; return true })
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != "B" || res.Version != "test-v2-good" || !phases[update.PhaseWriting] || !phases[update.PhaseReadBack] {
		t.Fatalf("install: %+v phases %v", res, phases)
	}
	// The box reboots by itself into the trial, which confirms.
	if _, err := b.vm.WaitConsole("edgebox init test-v2-good starting", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("slot CONFIRMED", 0, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	h, _ := b.waitHealthy(3 * time.Minute)
	if h.Version != "test-v2-good" {
		t.Fatalf("version after the update: %q", h.Version)
	}
	tok = b.token("installer-secret-1") // the admin password survived
	if s := b.system(tok); s.Slot != "B" || !s.Confirmed || s.Version != "test-v2-good" {
		t.Fatalf("after the update: %+v", s)
	}
	var cfg map[string]any
	if _, err := b.call("GET", "/api/v1/config", tok, nil, &cfg); err != nil || !strings.Contains(fmt.Sprint(cfg), "Europe/Berlin") {
		t.Fatalf("config not kept across the update: %v %v", err, cfg)
	}
	// Confirmed for good: a power cut and a cold boot come back on B.
	b.vm.Kill()
	b2 := bootBox(t, disk, false)
	if _, err := b2.vm.WaitConsole("boot slot confirmed", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if h, _ := b2.waitHealthy(3 * time.Minute); h.Version != "test-v2-good" {
		t.Fatalf("cold boot after confirmation runs %q", h.Version)
	}
}

func TestQEMUUpdateFailedHealthCheckRollsBack(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	bundle := variantBundle(t, "test-v2-bad", "edgebox.debug.trialfail=1", nil)
	b := bootBox(t, disk, false)
	h, _ := b.waitHealthy(3 * time.Minute)
	oldVersion := h.Version
	tok := b.adminToken()
	data, _ := os.ReadFile(bundle)
	if _, err := b.upload(tok, data, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("edgebox init test-v2-bad starting", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("TRIAL FAILED", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("ROLLED BACK", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	h, _ = b.waitHealthy(3 * time.Minute)
	if h.Version != oldVersion {
		t.Fatalf("after the rollback the box runs %q, not %q", h.Version, oldVersion)
	}
	tok = b.token("installer-secret-1")
	s := b.system(tok)
	if s.Slot != "A" || !s.Confirmed || !strings.Contains(s.RollbackReason, "trialfail") {
		t.Fatalf("after the rollback: %+v", s)
	}
}

func TestQEMUUpdateRefusedAndPowerCut(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	good := variantBundle(t, "test-v2-cut", "", nil)
	apu := variantBundle(t, "test-v2-apu", "", []string{"apu2"})
	b := bootBox(t, disk, false)
	h, _ := b.waitHealthy(3 * time.Minute)
	oldVersion := h.Version
	tok := b.adminToken()
	data, _ := os.ReadFile(good)
	apuData, _ := os.ReadFile(apu)
	badSig := bytes.Clone(data)
	badSig[bytes.Index(badSig, []byte("test-v2-cut"))] = 'T'
	beforeA, beforeB := slotHash(t, disk, "A"), slotHash(t, disk, "B")
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"bad signature", badSig, "signature is invalid"},
		{"wrong board", apuData, "this box is qemu"},
		{"truncated", data[:len(data)-(1<<20)], "truncated"},
	} {
		_, err := b.upload(tok, c.data, false, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a refusal saying %q", c.name, err, c.want)
		}
	}
	if slotHash(t, disk, "A") != beforeA || slotHash(t, disk, "B") != beforeB {
		t.Fatal("a refused bundle wrote to a boot slot")
	}
	// Power cut while the inactive slot is being written.
	_, err := b.upload(tok, data, false, func(p update.Progress) bool {
		if p.Phase == update.PhaseWriting && p.Done > p.Total/3 {
			b.vm.Kill()
			return false
		}
		return true
	})
	if err == nil {
		t.Fatal("install finished before the power cut")
	}
	if slotHash(t, disk, "B") == beforeB {
		// The guest's page cache had not reached the disk yet (it is
		// flushed at the end of the install): still a cut mid-update, and
		// the old slot must still boot.
		t.Log("power cut before the guest flushed any of slot B to the disk")
	}
	b2 := bootBox(t, disk, false)
	h, _ = b2.waitHealthy(3 * time.Minute)
	if h.Version != oldVersion {
		t.Fatalf("after the power cut the box runs %q, not %q", h.Version, oldVersion)
	}
	tok = b2.token("installer-secret-1")
	if s := b2.system(tok); s.Slot != "A" || !s.Confirmed {
		t.Fatalf("after the power cut: %+v", s)
	}
	// The interrupted update installs fine afterwards.
	if res, err := b2.upload(tok, data, false, nil); err != nil || res.Slot != "B" {
		t.Fatalf("install after the power cut: %+v %v", res, err)
	}
}

func TestQEMUUpdateHungTrialResetByWatchdog(t *testing.T) {
	parallelQEMU(t)
	disk := diskCopy(t, builtImage(t), "")
	bundle := variantBundle(t, "test-v2-hang", "edgebox.debug.hang=3", nil)
	b := bootBox(t, disk, false)
	h, _ := b.waitHealthy(3 * time.Minute)
	oldVersion := h.Version
	tok := b.adminToken()
	data, _ := os.ReadFile(bundle)
	if _, err := b.upload(tok, data, true, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("edgebox init test-v2-hang starting", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := b.vm.WaitConsole("hanging init's main loop on purpose", 0, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	// No reboot by init: only the watchdog can bring the old slot back.
	if _, err := b.vm.WaitConsole("ROLLED BACK", 0, 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	h, _ = b.waitHealthy(3 * time.Minute)
	tok = b.token("installer-secret-1")
	s := b.system(tok)
	if h.Version != oldVersion || s.Slot != "A" || !s.Confirmed || !strings.Contains(s.RollbackReason, "left no report") {
		t.Fatalf("after the watchdog reset: version %q, %+v", h.Version, s)
	}
}
