package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestJanusPoint places a few calls through Janus's SIP plugin to SIPp in
// the benchmark's namespace, as make bench does at each load point: the
// calls must connect and their media flow both ways through Janus.
// Figures are not judged.
func TestJanusPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Janus and SIPp")
	}
	testenv.RequireRoot(t, "janus") // a network namespace
	n, err := NewJanusNet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// a set-up point: each call registers its own session (the quick
	// matrix's Janus point registers them all first)
	p := Point{Name: "janus x3", Codec: "pcmu", Rate: 10, Concurrency: 3, Total: 3, Hold: 4 * time.Second, Ramp: true}
	dir := t.TempDir()
	if d := os.Getenv("JANUS_TEST_LOGS"); d != "" {
		dir = d
	}
	// calldial's two callers: a PeerConnection per call, and the lean
	// one (no full ICE agent: Janus's libnice must take its one
	// nominating check, and it is the DTLS server)
	for _, lean := range []bool{false, true} {
		name := map[bool]string{false: "pion", true: "lean"}[lean]
		t.Run(name, func(t *testing.T) {
			r := runJanusPoint(ctx, n, dir+"/"+name, p, lean, nil)
			checkJanusResult(t, r)
			if f := r.Report.FastPath; lean && (f.Calls != p.Total || f.PacketsSent != r.Report.Media.Sent) {
				t.Errorf("lean calls through Janus: %d of %d calls, %d of %d packets through their SRTP sessions, want all",
					f.Calls, p.Total, f.PacketsSent, r.Report.Media.Sent)
			}
		})
	}
}

// checkJanusResult asserts that Janus's calls connected and carried media.
func checkJanusResult(t *testing.T, r *Result) {
	t.Helper()
	if r == nil {
		t.Fatal("no Janus result")
	}
	rep := r.Report
	if r.Error != "" || rep == nil {
		t.Fatalf("%s through Janus: %s", r.Point.Name, r.Error)
	}
	if rep.Answered != r.Point.Total || rep.Failed != 0 {
		t.Errorf("%s through Janus: answered %d of %d, failures %v", r.Point.Name, rep.Answered, r.Point.Total, rep.Failures)
	}
	if rep.Media.CallsWithMedia != r.Point.Total || rep.Media.Received == 0 {
		t.Errorf("%s through Janus: media %+v", r.Point.Name, rep.Media)
	}
	if rep.Gateway == nil || rep.Gateway.CPUSec <= 0 {
		t.Errorf("%s: Janus's CPU not measured: %+v", r.Point.Name, rep.Gateway)
	}
}
