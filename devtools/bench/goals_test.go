package bench

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/devtools/calldial"
)

// TestGoals builds issue 17's rows from made-up points: the calls a
// pinned core carries are derived from its µs per packet and shown with
// the derivation, a failed pinned set-up step stops the rate, and rows
// without a point say "not measured".
func TestGoals(t *testing.T) {
	conc := func(name string, n int, pinned bool, loss, us float64) Result {
		return Result{Point: Point{Name: name, Codec: "pcmu", Concurrency: n, Total: n, Pinned: pinned},
			Report: &calldial.Report{Attempted: n, Answered: n, PeakHeld: n, Media: calldial.MediaSummary{LossPct: loss},
				Gateway: &calldial.ProcFigures{USPerPacket: us, MBPerCall: 0.05, WindowCPUPct: 50}}}
	}
	setup := func(r float64, pinned bool, failed int) Result {
		n := int(r * 3)
		return Result{Point: Point{Name: "setup", Codec: "pcmu", Rate: r, Total: n, Ramp: true, Pinned: pinned},
			Report: &calldial.Report{Attempted: n, Answered: n - failed, Failed: failed, AttemptRate: r, Media: calldial.MediaSummary{Sent: uint64(n), Received: uint64(n)},
				Failures: map[string]int{"timeout waiting for answer": failed}, Gateway: &calldial.ProcFigures{CPUSec: r * 3 * 0.0008}}}
	}
	res := Results{Started: time.Unix(0, 0), Load: []Result{
		conc("g711 x500", 500, false, 0, 5.5),
		conc("g711 x1000", 1000, false, 0, 6.5),
		setup(100, false, 0),
		conc("pinned g711 x1000", 1000, true, 0, 5),
		conc("pinned g711 x1600", 1600, true, 3, 9),
		setup(400, true, 0),
		setup(800, true, 12),
	}}
	res.Load[1].GatewayGoroutinesPerCall = 2.1
	rows := goals(res)
	if len(rows) != 7 {
		t.Fatalf("%d rows, want issue 17's 7", len(rows))
	}
	want := []struct {
		now string
		met bool
	}{
		{"5.5 / 6.5", false},
		{"0.80 / - (100/s: 0.24 s CPU for 300 calls, hung up at first media: 2.0 pkts relayed per call)", false},
		{"0.050 MB", true},
		{"2.10", false},
		{"2000 derived: 1e6 µs/s ÷ (50 pkt/s × 2 directions × 5.00 µs/pkt at 1000 calls pinned", true},
		{"400/s (400/s started; the core's CPU there: 0.80 ms per set-up, so 1250/s sustained; first media p95 0.0 s); at 800/s: 12 failed (12 x timeout waiting for answer)", false},
		{"not measured", false},
	}
	for i, w := range want {
		if !strings.Contains(rows[i].Now, w.now) || rows[i].Met != w.met {
			t.Errorf("%s: now %q met %v, want %q met %v", rows[i].Figure, rows[i].Now, rows[i].Met, w.now, w.met)
		}
	}
	if !strings.Contains(rows[4].Now, "direct: clean up to 1000 pinned; at 1600 pinned: 1600/1600 answered, 0 failed, loss 3.0000%") {
		t.Errorf("pinned row lacks the direct run: %q", rows[4].Now)
	}
	// 800/s with none failed, but at 1.6 ms of the core's CPU each: the
	// calls queued, the core sustains 625/s
	queued := setup(800, true, 0)
	queued.Report.Gateway.CPUSec = 2400 * 0.0016
	res.Load[len(res.Load)-1] = queued
	if r := goals(res)[5]; r.Met || !strings.Contains(r.Now, "800/s (800/s started; the core's CPU there: 1.60 ms per set-up, so 625/s sustained") {
		t.Errorf("800/s none failed at 1.6 ms a set-up: now %q met %v, want 625/s sustained and not met", r.Now, r.Met)
	}
	var out strings.Builder
	printGoals(&out, rows)
	if !strings.Contains(out.String(), "issue 17 goal") || !strings.Contains(out.String(), "≥ 1600 (derived and shown)") {
		t.Errorf("table:\n%s", out.String())
	}
	if callsPerCore(6.25) != 1600 {
		t.Errorf("6.25 µs/pkt: %d calls, want 1600", callsPerCore(6.25))
	}
}

// TestReprint prints the table of a saved run (-from), and refuses a file
// that is not one.
func TestReprint(t *testing.T) {
	res := Results{Host: "saved", Load: []Result{{Point: Point{Name: "pinned g711 x200", Codec: "pcmu", Concurrency: 200, Total: 200, Pinned: true},
		Report: &calldial.Report{Attempted: 200, Answered: 200, PeakHeld: 200, Gateway: &calldial.ProcFigures{USPerPacket: 5}}}}}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := Main(context.Background(), []string{"-from", path}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "edgebox bench on saved") || !strings.Contains(out.String(), "2000 derived") {
		t.Errorf("table of the saved run:\n%s", out.String())
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{\"load\": ["), 0o644)
	if err := Main(context.Background(), []string{"-from", bad}, &out, io.Discard); err == nil || !strings.Contains(err.Error(), "not a saved run") {
		t.Errorf("a truncated file: %v", err)
	}
}
