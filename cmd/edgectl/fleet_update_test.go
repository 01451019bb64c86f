package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/internal/update"
	"edgebox/internal/update/updatetest"
)

func TestParseWaves(t *testing.T) {
	for _, c := range []struct {
		spec string
		n    int
		want []int
		bad  bool
	}{
		{"1,10%,rest", 50, []int{1, 5, 44}, false},
		{"1,10%,rest", 3, []int{1, 1, 1}, false},
		{"1,10%,rest", 1, []int{1}, false},
		{"2,rest", 2, []int{2}, false},
		{"rest", 7, []int{7}, false},
		{"50%,50%", 5, []int{3, 2}, false},
		{"1,2", 5, nil, true},       // does not cover the fleet
		{"rest,1", 5, nil, true},    // rest not last
		{"0,rest", 5, nil, true},    // empty wave
		{"x,rest", 5, nil, true},    // not a number
		{"150%,rest", 5, nil, true}, // share above 100
	} {
		got, err := parseWaves(c.spec, c.n)
		if c.bad != (err != nil) || (!c.bad && !equalInts(got, c.want)) {
			t.Errorf("parseWaves(%q, %d) = %v, %v; want %v (error %v)", c.spec, c.n, got, err, c.want, c.bad)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// updatableBox is the init of one fleet box: its update API installs with
// the real update.Installer into a real two-slot test disk, checks the
// bundle's signature against the box's trusted key; a reboot is then acted
// out: init does not answer for a moment, then the new version runs on
// trial, and is confirmed or (fate "rollback") falls back to the old one.
type updatableBox struct {
	name, fate string
	disk       string
	trusted    ed25519.PublicKey

	mu        sync.Mutex
	version   string
	confirmed bool
	rollback  string
	bootedAt  time.Time
	down      bool
	installs  int
}

func (b *updatableBox) routes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/system", func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.down {
			localapi.WriteError(w, http.StatusServiceUnavailable, errors.New("rebooting"))
			return
		}
		slot := "A"
		if b.version != "1.0.0" {
			slot = "B"
		}
		localapi.WriteJSON(w, 200, sysapi.System{Board: "qemu", Hostname: b.name, Version: b.version, Slot: slot,
			Confirmed: b.confirmed, RollbackReason: b.rollback, BootedAt: b.bootedAt})
	})
	m.HandleFunc("POST /v1/services/{name}/reload", func(w http.ResponseWriter, r *http.Request) { localapi.WriteJSON(w, 200, struct{}{}) })
	m.HandleFunc("POST /v1/update", func(w http.ResponseWriter, r *http.Request) {
		d, err := update.OpenDisk(b.disk)
		if err != nil {
			localapi.WriteError(w, 500, err)
			return
		}
		defer d.Close()
		b.mu.Lock()
		b.installs++
		current := b.version
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		in := &update.Installer{Disk: d, Running: "A", Board: "qemu", Trusted: []ed25519.PublicKey{b.trusted}, Current: current,
			Progress: func(p update.Progress) { enc.Encode(p); rc.Flush() }}
		res, err := in.Install(r.Context(), r.Body, r.ContentLength, r.Header.Get("X-Bundle-SHA256"))
		if err != nil {
			enc.Encode(update.Progress{Phase: update.PhaseFailed, Error: err.Error()})
			return
		}
		enc.Encode(update.Progress{Phase: "done", Result: res})
		if r.URL.Query().Get("reboot") == "1" {
			go b.reboot(current, res.Version)
		}
	})
	return m
}

// reboot acts out the trial boot of version and its verdict.
func (b *updatableBox) reboot(old, version string) {
	set := func(f func()) { b.mu.Lock(); f(); b.mu.Unlock() }
	time.Sleep(200 * time.Millisecond)
	set(func() { b.down = true })
	time.Sleep(400 * time.Millisecond)
	set(func() { b.down, b.version, b.confirmed, b.bootedAt = false, version, false, time.Now() })
	time.Sleep(600 * time.Millisecond)
	if b.fate == "rollback" {
		set(func() { b.down = true })
		time.Sleep(300 * time.Millisecond)
		set(func() {
			b.down, b.version, b.confirmed, b.bootedAt = false, old, true, time.Now()
			b.rollback = "trial health check failed: gateway not running"
		})
		return
	}
	set(func() { b.confirmed = true })
}

// TestFleetUpdateWaves: four real web boxes; the bundle goes wave by wave
// (1, 50%, rest). The third box's trial rolls back, so the run stops in
// wave 2: the fourth box is never sent the bundle, the first two run the
// new version confirmed. A second run skips the boxes already on it, and
// --json streams one event per line.
func TestFleetUpdateWaves(t *testing.T) {
	dir := t.TempDir()
	webBin := buildCmd(t, dir, "web")
	edgectl := buildCmd(t, dir, "edgectl")
	key := updatetest.Key(t)
	bundle := updatetest.Bundle(t, "1.1.0", []string{"qemu"}, key)

	var sims []*updatableBox
	var boxes []fleetBox
	for i, fate := range []string{"ok", "ok", "rollback", "ok"} {
		s := &updatableBox{name: "box-" + string(rune('a'+i)), fate: fate, disk: updatetest.Disk(t),
			trusted: key.Public().(ed25519.PublicKey), version: "1.0.0", confirmed: true, bootedAt: time.Now().Add(-time.Hour)}
		sims = append(sims, s)
		boxes = append(boxes, startWebBoxWith(t, webBin, s.name, "admin", s.routes()))
	}
	file := filepath.Join(dir, "fleet.json")
	writeFleet := func(bs []fleetBox) {
		data, _ := json.Marshal(map[string]any{"boxes": bs})
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFleet(boxes)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, edgectl, "fleet", "update", "--file", file, "--waves", "1,50%,rest", "--boot-timeout", "30s", "--trial-timeout", "30s", bundle).CombinedOutput()
	t.Logf("edgectl fleet update:\n%s", out)
	if err == nil || !strings.Contains(string(out), "stopped in wave 2") {
		t.Fatalf("the rollback in wave 2 did not stop the run: %v", err)
	}
	for _, want := range []string{"box-c", "rolled_back", "trial health check failed", "1 not reached keep their firmware (box-d)"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for i, want := range []struct {
		version  string
		installs int
	}{{"1.1.0", 1}, {"1.1.0", 1}, {"1.0.0", 1}, {"1.0.0", 0}} {
		s := sims[i]
		s.mu.Lock()
		if s.version != want.version || s.installs != want.installs || !s.confirmed {
			t.Errorf("%s: version %s (installs %d, confirmed %v), want %s after %d installs", s.name, s.version, s.installs, s.confirmed, want.version, want.installs)
		}
		s.mu.Unlock()
	}

	// The boxes already on 1.1.0 are skipped; --json is one event a line.
	writeFleet(boxes[:2])
	out, err = exec.CommandContext(ctx, edgectl, "--json", "fleet", "update", "--file", file, bundle).Output()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	var phases []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var e waveEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("--json line %q: %v", sc.Text(), err)
		}
		phases = append(phases, e.Box+":"+e.Phase)
	}
	all := " " + strings.Join(phases, " ") + " "
	if !strings.Contains(all, " box-a:skip ") || !strings.Contains(all, " box-b:skip ") || phases[len(phases)-1] != ":done" {
		t.Errorf("second run's events %v, want both boxes skipped, then done", phases)
	}
	for _, s := range sims[:2] {
		if s.installs != 1 {
			t.Errorf("%s installed again", s.name)
		}
	}

	// A bundle the boxes do not trust fails in the first wave and stops.
	writeFleet(boxes[3:])
	other := updatetest.Bundle(t, "1.2.0", []string{"qemu"}, updatetest.Key(t))
	out, err = exec.CommandContext(ctx, edgectl, "fleet", "update", "--file", file, other).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "stopped in wave 1") || !strings.Contains(string(out), "sign") {
		t.Errorf("untrusted bundle: %v\n%s", err, out)
	}
}
