package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/devtools/bench"
	"edgebox/devtools/calldial"
)

// BenchmarkStacks runs calldial's load points against the gateway binary
// on each browser-leg stack in the same run, each point on a fresh SIPp
// and gateway, and prints the figures side by side with lean/pion ratios:
// gateway CPU µs per relayed packet (steady window), ms of gateway CPU
// per set-up (set-up points: the run's CPU over the calls answered), MB
// per call (RSS growth / calls) and goroutines per call (the gateway's
// go_goroutines growth / calls held). It is heavy (minutes, thousands of
// calls on loopback): run it on its own,
//
//	go test -run '^$' -bench '^BenchmarkStacks$' -benchtime 1x ./gateway/
//
// $EDGEBOX_STACK_POINTS picks points by name ("x1000,setup"; "smoke": one
// small point instead, to try the harness); $EDGEBOX_STACK_RUNS the runs of
// each point ("pion,lean" unless set; "lean-sendto" is lean sending toward
// the PBX with a sendto per packet instead of io_uring batches); with
// $EDGEBOX_STACK_PROFILE set to a directory, the gateway's CPU profile of
// 10 s in the steady window of the largest point, and of each set-up
// point's ramp, is written there, per stack (EDGEBOX_PPROF, cmd/gateway).
func BenchmarkStacks(b *testing.B) {
	points := []bench.Point{
		{Name: "g711 x200", Codec: "pcmu", Rate: 100, Concurrency: 200, Total: 200, Hold: 20 * time.Second},
		{Name: "g711 x500", Codec: "pcmu", Rate: 100, Concurrency: 500, Total: 500, Hold: 25 * time.Second},
		{Name: "g711 x1000", Codec: "pcmu", Rate: 100, Concurrency: 1000, Total: 1000, Hold: 25 * time.Second},
		{Name: "setup 100/s", Codec: "pcmu", Rate: 100, Concurrency: 2000, Total: 300, Hold: time.Second, Ramp: true},
		{Name: "setup 400/s", Codec: "pcmu", Rate: 400, Concurrency: 2000, Total: 1200, Hold: time.Second, Ramp: true},
	}
	if sel := os.Getenv("EDGEBOX_STACK_POINTS"); sel != "" {
		var keep []bench.Point
		for _, p := range points {
			for _, s := range strings.Split(sel, ",") {
				if strings.Contains(p.Name, s) {
					keep = append(keep, p)
					break
				}
			}
		}
		points = keep
	}
	dir := b.TempDir()
	bin, err := bench.BuildGateway(dir)
	if err != nil {
		b.Fatal(err)
	}
	if os.Getenv("EDGEBOX_STACK_POINTS") == "smoke" {
		// the harness itself, in seconds
		points = []bench.Point{{Name: "g711 x10", Codec: "pcmu", Rate: 20, Concurrency: 10, Total: 10, Hold: 6 * time.Second}}
	}
	largest, most := "", 0
	for _, p := range points {
		if !p.Ramp && p.Concurrency > most {
			largest, most = p.Name, p.Concurrency
		}
	}
	runs := stacks
	if r := os.Getenv("EDGEBOX_STACK_RUNS"); r != "" {
		runs = strings.Split(r, ",")
	}
	got := map[string]*stackFigures{}
	for i, p := range points {
		for _, s := range runs {
			b.Run(strings.ReplaceAll(p.Name, " ", "_")+"/stack="+s, func(b *testing.B) {
				profile := ""
				if d := os.Getenv("EDGEBOX_STACK_PROFILE"); d != "" && (p.Name == largest || p.Ramp) {
					profile = filepath.Join(d, fmt.Sprintf("gateway-%s-%s.pprof", strings.NewReplacer(" ", "", "/", "per").Replace(p.Name), s))
				}
				f, err := runStackPoint(b, bin, filepath.Join(dir, fmt.Sprintf("p%02d-%s", i, s)), p, s, profile)
				if err != nil {
					b.Fatal(err)
				}
				got[p.Name+"/"+s] = f
				b.ReportMetric(f.usPerPacket, "µs-cpu/pkt")
				b.ReportMetric(f.mbPerCall, "MB/call")
				b.ReportMetric(f.goroutinesPerCall, "goroutines/call")
				if p.Ramp {
					b.ReportMetric(f.msPerSetup, "ms-cpu/setup")
				}
			})
		}
	}
	var t strings.Builder
	fmt.Fprintf(&t, "\n%-12s %-11s %9s %9s %9s %11s %10s %8s %s\n", "point", "stack", "answered", "loss %", "µs/pkt", "ms/set-up", "MB/call", "gor/call", "top failure")
	for _, p := range points {
		for _, s := range runs {
			if f := got[p.Name+"/"+s]; f != nil {
				fmt.Fprintf(&t, "%-12s %-11s %4d/%-4d %9.4f %9s %11s %10s %8s %s\n", p.Name, s, f.rep.Answered, f.rep.Attempted,
					f.rep.Media.LossPct, figure(f.usPerPacket, 1), figure(f.msPerSetup, 2), figure(f.mbPerCall, 3),
					figure(f.goroutinesPerCall, 1), f.topFailure())
			}
		}
		for _, r := range [][2]string{{"lean", "pion"}, {"lean", "lean-sendto"}, {"pion", "pion-sendto"}} {
			a, c := got[p.Name+"/"+r[0]], got[p.Name+"/"+r[1]]
			if a == nil || c == nil {
				continue
			}
			fmt.Fprintf(&t, "%-24s %9s %9s %9s %11s %10s %8s\n", "  ratio "+r[0]+"/"+r[1], "", "",
				ratio(a.usPerPacket, c.usPerPacket), ratio(a.msPerSetup, c.msPerSetup), ratio(a.mbPerCall, c.mbPerCall), ratio(a.goroutinesPerCall, c.goroutinesPerCall))
		}
	}
	fmt.Print(t.String()) // b.Log of a benchmark with sub-benchmarks goes unprinted
}

// figure is v with prec decimals, or "-" where the point does not measure it.
func figure(v float64, prec int) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

type stackFigures struct {
	rep                                                   *calldial.Report
	usPerPacket, msPerSetup, mbPerCall, goroutinesPerCall float64
}

func (f *stackFigures) topFailure() string {
	top, n := "", 0
	for k, v := range f.rep.Failures {
		if v > n {
			top, n = fmt.Sprintf("%s (%d)", k, v), v
		}
	}
	return top
}

// runStackPoint runs point p against a fresh SIPp and gateway on stack.
func runStackPoint(b *testing.B, bin, dir string, p bench.Point, stack, profile string) (*stackFigures, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	uas, err := bench.StartUAS(dir)
	if err != nil {
		return nil, err
	}
	defer uas.Stop(5 * time.Second)
	cfg, err := bench.GatewayConfig(uas.Addr, p.Concurrency)
	if err != nil {
		return nil, err
	}
	// "lean-sendto": the lean stack sending toward the PBX with a sendto
	// per packet, as before the io_uring batches (the before of a
	// before/after within one run)
	stack, sendto := strings.CutSuffix(stack, "-sendto")
	cfg.Media.Stack = stack
	if sendto {
		os.Setenv("EDGEBOX_NO_IO_URING", "1")
		defer os.Unsetenv("EDGEBOX_NO_IO_URING")
	}
	// the gateway's profiler, on loopback: its goroutine count, and the
	// CPU profile when asked
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", freePort(b, "tcp"))
	os.Setenv("EDGEBOX_PPROF", pprofAddr)
	gw, err := bench.StartGateway(bin, dir, cfg)
	os.Unsetenv("EDGEBOX_PPROF")
	if err != nil {
		return nil, err
	}
	defer gw.Stop(15 * time.Second)
	rig := &bench.Rig{UAS: uas, Gateway: gw}
	time.Sleep(300 * time.Millisecond) // settle before the baseline
	g0, err := gatewayGoroutines(pprofAddr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// goroutines and the profile in the steady window: all calls up
	ramp := time.Duration(float64(p.Total)/p.Rate*float64(time.Second)) + 2*time.Second
	peakG := make(chan int, 1)
	profErr := make(chan error, 1)
	setupProf := make(chan error, 1)
	if profile != "" && p.Ramp {
		// a set-up point's profile covers its ramp: the set-ups themselves
		go func() { setupProf <- fetchProfile(ctx, pprofAddr, profile, max(1, int(float64(p.Total)/p.Rate))) }()
	} else {
		setupProf <- nil
	}
	go func() {
		select {
		case <-time.After(ramp):
		case <-ctx.Done():
			peakG <- 0
			profErr <- nil
			return
		}
		g, _ := gatewayGoroutines(pprofAddr)
		peakG <- g
		if profile == "" || p.Ramp {
			profErr <- nil
			return
		}
		profErr <- fetchProfile(ctx, pprofAddr, profile, 10)
	}()
	rep, err := calldial.Run(ctx, calldial.Options{
		Portal: gw.Portal, APIKey: bench.APIKey, Codec: p.Codec,
		Rate: p.Rate, Concurrency: p.Concurrency, Total: p.Total, Hold: p.Hold,
		GatewayPID: gw.PID(), UASPID: uas.PID(), WatchUDP: rig.WatchUDP(),
	})
	if err != nil {
		return nil, err
	}
	if gw.Exited() {
		return nil, fmt.Errorf("gateway exited during the run:\n%s", gw.LogTail())
	}
	f := &stackFigures{rep: rep}
	if g := rep.Gateway; g != nil {
		f.usPerPacket, f.mbPerCall = g.USPerPacket, g.MBPerCall
		if p.Ramp && rep.Answered > 0 {
			f.msPerSetup = g.CPUSec * 1000 / float64(rep.Answered)
		}
	}
	if g := <-peakG; g > g0 && rep.PeakHeld > 0 && !p.Ramp {
		f.goroutinesPerCall = float64(g-g0) / float64(rep.PeakHeld)
	}
	if err := <-profErr; err != nil {
		b.Logf("profile: %v", err)
	}
	if err := <-setupProf; err != nil {
		b.Logf("set-up profile: %v", err)
	}
	return f, nil
}

// gatewayGoroutines reads the gateway's goroutine count from its pprof.
func gatewayGoroutines(addr string) (int, error) {
	res, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var n int
	_, err = fmt.Fscanf(res.Body, "goroutine profile: total %d", &n)
	return n, err
}

// fetchProfile writes the gateway's CPU profile of sec seconds to path.
func fetchProfile(ctx context.Context, addr, path string, sec int) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, sec), nil)
	res, err := (&http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext}}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	w, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, res.Body); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
