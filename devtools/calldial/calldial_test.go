package calldial_test

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"edgebox/devtools/bench"
	"edgebox/devtools/calldial"
)

// rig builds cmd/gateway and starts it with SIPp (rtp_echo) on loopback.
func rig(t *testing.T, calls int) *bench.Rig {
	t.Helper()
	dir := t.TempDir()
	bin, err := bench.BuildGateway(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bench.StartRig(bin, dir, calls)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Close()
		if t.Failed() {
			t.Logf("gateway log:\n%s\nsipp log:\n%s", r.Gateway.LogTail(), r.UAS.LogTail())
		}
	})
	return r
}

// TestThreeCallsThroughGateway places three calls through the gateway
// process to SIPp and checks the report: all answered, media both ways,
// the gateway's CPU and memory read from /proc.
func TestThreeCallsThroughGateway(t *testing.T) {
	r := rig(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	var progress strings.Builder
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	rep, err := calldial.Run(ctx, calldial.Options{
		Portal: r.Gateway.Portal, APIKey: bench.APIKey,
		Rate: 10, Concurrency: 3, Total: 3, Hold: 3 * time.Second, Codec: "pcmu",
		GatewayPID: r.Gateway.PID(), UASPID: r.UAS.PID(), WatchUDP: r.WatchUDP(),
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	// every call's socket, mux reader and pion goroutines are gone
	leaks(t, g0, fd0)
	if rep.Attempted != 3 || rep.Answered != 3 || rep.Failed != 0 {
		t.Fatalf("attempted %d answered %d failed %d (%v), want 3/3/0", rep.Attempted, rep.Answered, rep.Failed, rep.Failures)
	}
	if rep.PeakHeld != 3 {
		t.Errorf("peak held %d, want 3", rep.PeakHeld)
	}
	m := rep.Media
	// 3 s of 20 ms packets is 150 per call; allow a slow start
	if m.Sent < 3*100 || m.Received < m.Sent*9/10 || m.CallsWithMedia != 3 {
		t.Errorf("media: sent %d received %d with media %d: want >= 300 sent, >= 90%% echoed, 3 calls", m.Sent, m.Received, m.CallsWithMedia)
	}
	// The media left pion after the first echo on every call: nearly
	// all packets both ways went through the dtlssrtp sessions, and
	// nothing was lost across the switch.
	f := rep.FastPath
	if f.Calls != rep.Answered || f.Of != rep.Answered || len(f.Failures) != 0 {
		t.Errorf("fast path: %d of %d calls (%v), want all %d answered", f.Calls, f.Of, f.Failures, rep.Answered)
	}
	if m.Lost != 0 || m.Received != m.Sent {
		t.Errorf("media: sent %d received %d lost %d, want every packet echoed", m.Sent, m.Received, m.Lost)
	}
	// pion carries a call only until its first echo: well under a
	// second of its packets
	if f.PacketsSent+3*50 < m.Sent || f.PacketsRecvd+3*50 < m.Received || f.PacketsRecvd == 0 {
		t.Errorf("fast path carried %d of %d packets sent and %d of %d received, want all but the first ones",
			f.PacketsSent, m.Sent, f.PacketsRecvd, m.Received)
	}
	if rep.SetupMS.N != 3 || rep.SetupMS.P50 <= 0 || rep.FirstMediaMS.N != 3 || rep.FirstMediaMS.P50 < rep.SetupMS.P50 {
		t.Errorf("setup %+v first media %+v: want 3 each, media after 200 OK", rep.SetupMS, rep.FirstMediaMS)
	}
	if m.CallRTTMeanMS.N != 3 || m.CallRTTMeanMS.P50 <= 0 {
		t.Errorf("round trip %+v", m.CallRTTMeanMS)
	}
	g := rep.Gateway
	if g == nil || g.CPUSec <= 0 || g.RSSBaseMB <= 0 || g.RSSPeakMB < g.RSSBaseMB || g.USPerPacketRun <= 0 {
		t.Errorf("gateway figures %+v: want CPU and memory read from /proc", g)
	}
	if _, ok := m.SocketDrops["gateway_ice"]; !ok {
		t.Errorf("socket drops %v: gateway_ice not watched", m.SocketDrops)
	}
	if !strings.Contains(progress.String(), "calldial ") {
		t.Errorf("no progress line in %q", progress.String())
	}
	var out strings.Builder
	rep.Print(&out)
	t.Logf("report:\n%s", out.String())
	for _, want := range []string{"3 attempted, 3 answered, 0 failed", "token to 200 OK", "gateway", "fast path: 3 of 3 calls"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}

	// A destination the portal refuses: every call fails with its cause.
	rep, err = calldial.Run(ctx, calldial.Options{
		Portal: r.Gateway.Portal, APIKey: bench.APIKey, Destination: "sip:",
		Rate: 50, Concurrency: 2, Total: 2, Hold: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered != 0 || rep.Failed != 2 || rep.Failures["portal 400"] != 2 {
		t.Errorf("refused destination: answered %d failed %d causes %v, want 2 x portal 400", rep.Answered, rep.Failed, rep.Failures)
	}
	// A wrong API key likewise.
	rep, err = calldial.Run(ctx, calldial.Options{Portal: r.Gateway.Portal, APIKey: "wrong", Rate: 50, Concurrency: 1, Total: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failures["portal 401"] != 1 {
		t.Errorf("wrong key: causes %v, want portal 401", rep.Failures)
	}
}

// openFDs counts the test process's open files.
func openFDs(t *testing.T) int {
	t.Helper()
	e, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(e)
}

// leaks fails if goroutines or files stay above what there was before a
// run (a little slack: runtime and HTTP keep-alive goroutines come and go).
func leaks(t *testing.T, g0, fd0 int) {
	t.Helper()
	var g, fd int
	for range 100 {
		g, fd = runtime.NumGoroutine(), openFDs(t)
		if g <= g0+2 && fd <= fd0+1 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("after the run %d goroutines (before %d), %d open files (before %d):\n%s", g, g0, fd, fd0, buf[:runtime.Stack(buf, true)])
}

func TestOptionsRefused(t *testing.T) {
	for _, o := range []calldial.Options{
		{APIKey: "k", Rate: 1, Concurrency: 1, Total: 1},
		{Portal: "http://127.0.0.1:1", Rate: 1, Concurrency: 1, Total: 1},
		{Portal: "http://127.0.0.1:1", APIKey: "k", Rate: 0, Concurrency: 1, Total: 1},
		{Portal: "http://127.0.0.1:1", APIKey: "k", Rate: 1, Concurrency: 0, Total: 1},
		{Portal: "http://127.0.0.1:1", APIKey: "k", Rate: 1, Concurrency: 1, Total: 0},
		{Portal: "http://127.0.0.1:1", APIKey: "k", Rate: 1, Concurrency: 1, Total: 1, Codec: "gsm"},
	} {
		if _, err := calldial.Run(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestProcOfSelf(t *testing.T) {
	cpu, err := calldial.ProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rss, err := calldial.ProcRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("rss %d, %v", rss, err)
	}
	if cpu < 0 {
		t.Errorf("cpu %v", cpu)
	}
	if _, err := calldial.ProcCPU(1 << 30); err == nil {
		t.Error("a process that does not exist gave figures")
	}
}
