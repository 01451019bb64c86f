package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"edgebox/devtools/calldial"
)

// Point is one load point of the matrix.
type Point struct {
	Name        string
	Codec       string
	Rate        float64
	Concurrency int
	Total       int
	Hold        time.Duration
	// Ramp marks the setup-rate steps: a step runs only while the one
	// before it answered at least half its calls. Their calls have Hold
	// 0: each hangs up at its first echoed packet, so the gateway's CPU
	// there is the set-ups' (token to first media) and their BYEs, not
	// media (the concurrency points measure that).
	Ramp bool
	// Janus runs the point through Janus too (bench -janus).
	Janus bool
	// Pinned runs the gateway on one core of its own, SIPp and calldial
	// on the other (pinned.go); pinned set-up steps ramp apart from the
	// unpinned ones.
	Pinned bool
}

// Matrix is the fixed load matrix of make bench. Each point stays under
// 60 s; together they stay under about 9 minutes on a loaded 2-core box
// (Janus beside them adds its own runs; -only picks points).
func Matrix(quick bool) []Point {
	if quick {
		return []Point{
			// Janus beside the gateway on the smallest point: its driver
			// is exercised for real in make test
			{Name: "g711 x20", Codec: "pcmu", Rate: 50, Concurrency: 20, Total: 20, Hold: 6 * time.Second, Janus: true},
			{Name: "opus x20", Codec: "opus", Rate: 50, Concurrency: 20, Total: 20, Hold: 6 * time.Second},
			{Name: "setup 50/s", Codec: "pcmu", Rate: 50, Concurrency: 200, Total: 100, Ramp: true},
		}
	}
	pts := []Point{
		{Name: "g711 x50", Codec: "pcmu", Rate: 100, Concurrency: 50, Total: 50, Hold: 20 * time.Second},
		{Name: "g711 x200", Codec: "pcmu", Rate: 100, Concurrency: 200, Total: 200, Hold: 20 * time.Second},
		{Name: "g711 x500", Codec: "pcmu", Rate: 100, Concurrency: 500, Total: 500, Hold: 25 * time.Second},
		{Name: "g711 x1000", Codec: "pcmu", Rate: 100, Concurrency: 1000, Total: 1000, Hold: 25 * time.Second},
		{Name: "g711 x1500", Codec: "pcmu", Rate: 100, Concurrency: 1500, Total: 1500, Hold: 25 * time.Second},
		{Name: "opus x200", Codec: "opus", Rate: 100, Concurrency: 200, Total: 200, Hold: 20 * time.Second},
	}
	for _, rate := range []float64{50, 100, 200, 400, 800} {
		pts = append(pts, Point{Name: fmt.Sprintf("setup %.0f/s", rate), Codec: "pcmu", Rate: rate,
			Concurrency: 2000, Total: int(rate * 3), Ramp: true})
	}
	// Janus at the same points, to compare the two in one run
	for i := range pts {
		pts[i].Janus = true
	}
	// one gateway core: its µs per packet at the largest of these it
	// carries gives the calls a core carries (goals.go), then a direct
	// run at issue 17's goal
	pts = append(pts,
		Point{Name: "pinned g711 x200", Codec: "pcmu", Rate: 100, Concurrency: 200, Total: 200, Hold: 20 * time.Second, Pinned: true},
		Point{Name: "pinned g711 x500", Codec: "pcmu", Rate: 100, Concurrency: 500, Total: 500, Hold: 25 * time.Second, Pinned: true},
		Point{Name: "pinned g711 x1000", Codec: "pcmu", Rate: 100, Concurrency: 1000, Total: 1000, Hold: 25 * time.Second, Pinned: true},
		Point{Name: "pinned g711 x1600", Codec: "pcmu", Rate: 100, Concurrency: 1600, Total: 1600, Hold: 25 * time.Second, Pinned: true})
	for _, rate := range []float64{100, 200, 400, 600, 800} {
		pts = append(pts, Point{Name: fmt.Sprintf("pinned setup %.0f/s", rate), Codec: "pcmu", Rate: rate,
			Concurrency: 2000, Total: int(rate * 3), Ramp: true, Pinned: true})
	}
	return pts
}

// selected says whether point name is one of -only's comma-separated
// parts ("": all): a part is contained in the name, or is "=name".
func selected(name, only string) bool {
	if only == "" {
		return true
	}
	for _, part := range strings.Split(only, ",") {
		if exact, ok := strings.CutPrefix(part, "="); ok && exact == name || part != "" && !ok && strings.Contains(name, part) {
			return true
		}
	}
	return false
}

// Result is one measured point.
type Result struct {
	Point  Point            `json:"point"`
	Report *calldial.Report `json:"report,omitempty"`
	Error  string           `json:"error,omitempty"`
	// Janus is the same point through Janus (when it ran there).
	Janus *Result `json:"janus,omitempty"`
	// GatewayGoroutinesPerCall is the gateway's goroutine growth over
	// the calls held, read from its profiler with all calls up.
	GatewayGoroutinesPerCall float64 `json:"gateway_goroutines_per_call,omitempty"`
}

// Results are the whole benchmark (calldial bench --json).
type Results struct {
	Started time.Time   `json:"started"`
	Host    string      `json:"host"`
	Load    []Result    `json:"load"`
	Go      []GoBench   `json:"go_benchmarks"`
	GoError string      `json:"go_benchmarks_error,omitempty"`
	Targets []TargetRow `json:"targets"`
	Goals   []GoalRow   `json:"goals"`
}

// Main runs the benchmark (calldial bench): the load matrix, then the Go
// benchmarks of the hot paths, then one table.
func Main(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("calldial bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "a small matrix (smoke test)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	noLoad := fs.Bool("no-load", false, "only the Go benchmarks")
	noGo := fs.Bool("no-go", false, "only the load matrix")
	benchtime := fs.String("benchtime", "1s", "go test -benchtime for the hot-path benchmarks")
	verbose := fs.Bool("v", false, "progress line every second of each point")
	only := fs.String("only", "", "run only the load points whose name contains one of these, comma-separated (\"x1500\", \"pinned,setup\"; \"=g711 x500\": that name only)")
	pionCaller := fs.Bool("pion-caller", false, "calldial places the calls (gateway's and Janus's) with a PeerConnection each instead of its lean caller")
	logs := fs.String("logs", "", "keep each point's gateway, Janus and SIPp config and logs under this directory")
	withJanus := fs.Bool("janus", true, "run each point through Janus (Debian package janus) too, in network namespaces of the benchmark's own (needs root)")
	from := fs.String("from", "", "print the table of a run saved with -json (this file) instead of running")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from != "" {
		return reprint(*from, out)
	}
	res := Results{Started: time.Now()}
	res.Host, _ = os.Hostname()
	if !*noLoad {
		dir, done, err := WorkDir(*logs)
		if err != nil {
			return err
		}
		defer done()
		fmt.Fprintln(progress, "bench: building cmd/gateway")
		bin, err := BuildGateway(dir)
		if err != nil {
			return err
		}
		var jn *JanusNet
		if *withJanus {
			if jn, err = NewJanusNet(); err != nil {
				fmt.Fprintf(progress, "bench: Janus not measured: %v\n", err)
			} else {
				defer jn.Close()
			}
		}
		// set-up ramps, pinned and not, each stop at their first failed step
		rampFailed, janusRampFailed := map[bool]bool{}, false
		whyNoPin := canPin()
		for i, p := range Matrix(*quick) {
			if ctx.Err() != nil {
				break
			}
			if !selected(p.Name, *only) {
				continue
			}
			if p.Pinned && whyNoPin != "" {
				res.Load = append(res.Load, Result{Point: p, Error: "not run: " + whyNoPin})
				continue
			}
			if p.Ramp && rampFailed[p.Pinned] {
				res.Load = append(res.Load, Result{Point: p, Error: "not run: the previous rate answered under half its calls"})
				continue
			}
			fmt.Fprintf(progress, "bench: %s (%d calls, %.0f/s, hold %v)\n", p.Name, p.Total, p.Rate, p.Hold)
			var pw io.Writer
			if *verbose {
				pw = progress
			}
			r := runPoint(ctx, bin, fmt.Sprintf("%s/p%02d", dir, i), p, !*pionCaller, pw)
			if r.Report != nil {
				fmt.Fprintf(progress, "bench:   answered %d/%d, loss %.4f%%\n", r.Report.Answered, r.Report.Attempted, r.Report.Media.LossPct)
				if p.Ramp && r.Report.Answered*2 < r.Report.Attempted {
					rampFailed[p.Pinned] = true
				}
			} else {
				fmt.Fprintf(progress, "bench:   %s\n", r.Error)
				rampFailed[p.Pinned] = rampFailed[p.Pinned] || p.Ramp
			}
			if *withJanus && p.Janus && ctx.Err() == nil {
				r.Janus = janusPoint(ctx, jn, fmt.Sprintf("%s/p%02d-janus", dir, i), p, !*pionCaller, pw, janusRampFailed)
				janusRampFailed = janusRampFailed || p.Ramp && (r.Janus.Report == nil || r.Janus.Report.Answered*2 < r.Janus.Report.Attempted)
				if rep := r.Janus.Report; rep != nil {
					fmt.Fprintf(progress, "bench:   janus: answered %d/%d, loss %.4f%%\n", rep.Answered, rep.Attempted, rep.Media.LossPct)
				} else {
					fmt.Fprintf(progress, "bench:   janus: %s\n", firstLine(r.Janus.Error))
				}
			}
			res.Load = append(res.Load, r)
		}
	}
	if !*noGo && ctx.Err() == nil {
		fmt.Fprintln(progress, "bench: Go benchmarks of the hot paths")
		gb, err := RunGoBenchmarks(ctx, *benchtime)
		res.Go = gb
		if err != nil {
			res.GoError = err.Error()
		}
	}
	res.Targets = targets(res)
	res.Goals = goals(res)
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	PrintTable(out, res)
	return nil
}

// runPoint measures one point against a fresh UAS and gateway, so every
// point starts from the same memory and no leftovers; lean is calldial's
// caller without a PeerConnection per call.
func runPoint(ctx context.Context, bin, dir string, p Point, lean bool, progress io.Writer) Result {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Result{Point: p, Error: err.Error()}
	}
	rig, pprof, err := startPointRig(bin, dir, p)
	if err != nil {
		return Result{Point: p, Error: err.Error()}
	}
	defer rig.Close()
	if p.Pinned {
		undo, err := pinSelf(loadCPU)
		if err != nil {
			return Result{Point: p, Error: err.Error()}
		}
		defer undo()
	}
	// let the gateway settle before its baseline is taken
	time.Sleep(300 * time.Millisecond)
	g0, gerr := gatewayGoroutines(pprof)
	// its goroutines with all calls up: 2 s after the last call started
	peakG := make(chan int, 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-time.After(time.Duration(float64(p.Total)/p.Rate*float64(time.Second)) + 2*time.Second):
			g, _ := gatewayGoroutines(pprof)
			peakG <- g
		case <-runCtx.Done():
			peakG <- 0
		}
	}()
	rep, err := calldial.Run(runCtx, calldial.Options{
		Portal: rig.Gateway.Portal, APIKey: APIKey, Codec: p.Codec, Lean: lean,
		Rate: p.Rate, Concurrency: p.Concurrency, Total: p.Total, Hold: p.Hold,
		GatewayPID: rig.Gateway.PID(), UASPID: rig.UAS.PID(), WatchUDP: rig.WatchUDP(),
		Progress: progress, IdleWindow: rampIdleWindow(p),
	})
	cancel()
	if err != nil {
		return Result{Point: p, Error: err.Error()}
	}
	res := Result{Point: p, Report: rep}
	if g := <-peakG; gerr == nil && g > g0 && !p.Ramp && rep.PeakHeld > 0 {
		res.GatewayGoroutinesPerCall = float64(g-g0) / float64(rep.PeakHeld)
	}
	if rig.Gateway.Exited() {
		res.Error = "gateway exited during the run:\n" + rig.Gateway.LogTail()
	}
	return res
}

// rampIdleWindow is how long a set-up step measures the gateway with no
// calls before and after its ramp: its ms per set-up is the run's whole
// CPU over the calls, so a fixed cost per second would be in it.
func rampIdleWindow(p Point) time.Duration {
	if p.Ramp {
		return 2 * time.Second
	}
	return 0
}

// startPointRig starts the UAS and the gateway (its profiler on a
// loopback port, returned) of point p, pinned if p says so.
func startPointRig(bin, dir string, p Point) (*Rig, string, error) {
	port, err := freeUDPTCPPort()
	if err != nil {
		return nil, "", err
	}
	mport, err := freeEvenUDPPort()
	if err != nil {
		return nil, "", err
	}
	run := gatewayRun{}
	uasCPU := ""
	if p.Pinned {
		run.cpu, uasCPU = gatewayCPU, loadCPU
	}
	uas, err := startUAS(dir, "", loopback, port, mport, uasCPU)
	if err != nil {
		return nil, "", err
	}
	cfg, err := GatewayConfig(uas.Addr, p.Concurrency)
	if err != nil {
		uas.Stop(time.Second)
		return nil, "", err
	}
	pp, err := freeTCPPort()
	if err != nil {
		uas.Stop(time.Second)
		return nil, "", err
	}
	run.pprof = fmt.Sprintf("127.0.0.1:%d", pp)
	gw, err := startGateway(bin, dir, cfg, run)
	if err != nil {
		uas.Stop(time.Second)
		return nil, "", err
	}
	return &Rig{UAS: uas, Gateway: gw}, run.pprof, nil
}

// janusPoint runs point p through Janus, or says why it did not.
func janusPoint(ctx context.Context, jn *JanusNet, dir string, p Point, lean bool, progress io.Writer, rampFailed bool) *Result {
	switch {
	case jn == nil:
		return &Result{Point: p, Error: "not run: Janus's network namespaces could not be made (see above)"}
	case p.Ramp && rampFailed:
		return &Result{Point: p, Error: "not run: Janus answered under half the calls of the previous rate"}
	}
	return runJanusPoint(ctx, jn, dir, p, lean, progress)
}

func calldialProcZero() calldial.ProcFigures { return calldial.ProcFigures{} }

// reprint writes the table of a saved run (-json), its goal rows made
// anew so a saved run shows the current table.
func reprint(path string, out io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(data, &res); err != nil {
		return fmt.Errorf("%s is not a saved run of calldial bench -json: %w", path, err)
	}
	res.Targets, res.Goals = targets(res), goals(res)
	PrintTable(out, res)
	return nil
}
