package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// TargetRow is one of issue 8's targets against what this run reached.
type TargetRow struct {
	Target  string `json:"target"`
	Reached string `json:"reached"`
	Met     bool   `json:"met"`
}

// concurrencyPoints are the load points with all calls up at once.
func concurrencyPoints(res Results) []Result {
	var out []Result
	for _, r := range res.Load {
		if !r.Point.Ramp && r.Report != nil {
			out = append(out, r)
		}
	}
	return out
}

func targets(res Results) []TargetRow {
	var rows []TargetRow
	// the rig as a whole: the pinned points have goal rows of their own
	var pts []Result
	for _, r := range concurrencyPoints(res) {
		if !r.Point.Pinned {
			pts = append(pts, r)
		}
	}
	// 1500 concurrent G.711 calls under 0.01 % loss
	best, bestLoss, largest := 0, 0.0, (*Result)(nil)
	for i, r := range pts {
		if r.Point.Codec != "pcmu" {
			continue
		}
		rep := r.Report
		if largest == nil || r.Point.Concurrency > largest.Point.Concurrency {
			largest = &pts[i]
		}
		if rep.Failed == 0 && rep.PeakHeld == r.Point.Concurrency && rep.Media.LossPct < 0.01 && rep.PeakHeld > best {
			best, bestLoss = rep.PeakHeld, rep.Media.LossPct
		}
	}
	if largest != nil {
		reached := fmt.Sprintf("%d calls clean (loss %.4f%%)", best, bestLoss)
		if best < largest.Point.Concurrency {
			reached += fmt.Sprintf("; at %d: %d held, loss %.3f%%, %d failed", largest.Point.Concurrency,
				largest.Report.PeakHeld, largest.Report.Media.LossPct, largest.Report.Failed)
		}
		rows = append(rows, TargetRow{"1500 concurrent G.711 calls, loss < 0.01%", reached, best >= 1500})
		// CPU and memory where the gateway still carries the load (loss
		// under 1 %): past that, queues and drops make both meaningless.
		carried := (*Result)(nil)
		for i, r := range pts {
			if r.Point.Codec == "pcmu" && r.Report.Media.LossPct < 1 && r.Report.Gateway != nil && r.Report.Gateway.USPerPacket > 0 &&
				(carried == nil || r.Point.Concurrency > carried.Point.Concurrency) {
				carried = &pts[i]
			}
		}
		if carried != nil {
			g := carried.Report.Gateway
			rows = append(rows, TargetRow{"gateway CPU per relayed packet <= 6 µs",
				fmt.Sprintf("%.1f µs at %d calls (largest point with loss < 1%%)", g.USPerPacket, carried.Report.PeakHeld), g.USPerPacket <= 6})
			rows = append(rows, TargetRow{"memory per call < 0.1 MB",
				fmt.Sprintf("%.3f MB at %d calls (RSS growth / calls)", g.MBPerCall, carried.Report.PeakHeld), g.MBPerCall > 0 && g.MBPerCall < 0.1})
		}
	}
	// 800 call setups per second, none failed
	bestRate, bestAch := 0.0, 0.0
	ran := false
	for _, r := range res.Load {
		if !r.Point.Ramp || r.Point.Pinned || r.Report == nil {
			continue
		}
		ran = true
		if r.Report.Failed == 0 && r.Report.Answered == r.Point.Total && r.Point.Rate > bestRate {
			bestRate, bestAch = r.Point.Rate, r.Report.AttemptRate
		}
	}
	if ran {
		rows = append(rows, TargetRow{"800 call setups/s, none failed",
			fmt.Sprintf("%.0f/s asked (%.0f/s started) with none failed", bestRate, bestAch), bestRate >= 800 && bestAch >= 760})
	}
	for _, g := range res.Go {
		if (g.Package == "edgebox/gateway" && strings.HasPrefix(g.Name, "Relay")) ||
			(g.Package == "edgebox/internal/dtlssrtp" && g.Name == "FastPath") {
			rows = append(rows, TargetRow{"relay " + g.Name + ": 0 allocs/op", fmt.Sprintf("%.0f allocs/op", g.AllocsPerOp), g.AllocsPerOp == 0})
		}
	}
	return rows
}

// PrintTable writes the one table of make bench.
func PrintTable(w io.Writer, res Results) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	fmt.Fprintf(w, "edgebox bench on %s, %s (loopback; gateway, SIPp and calldial share the CPUs)\n\n", res.Host, res.Started.Format("2006-01-02 15:04"))

	pts := concurrencyPoints(res)
	if len(pts) > 0 {
		var base float64
		for _, r := range pts {
			if g := r.Report.Gateway; g != nil && g.USPerPacket > 0 && r.Point.Codec == "pcmu" {
				base = g.USPerPacket
				break
			}
		}
		line("load point", "answered", "held", "loss %", "drops gw/uas", "setup p50/p95/p99 ms", "1st media p95", "jitter p95", "rtt p95",
			"gw µs/pkt", "vs first", "gw µs/pkt run", "gw cpu %", "gw MB/call", "calldial µs/pkt", "uas µs/pkt", "top failure")
		for _, r := range pts {
			rep := r.Report
			g := rep.Gateway
			if g == nil {
				g = &calldialZero
			}
			u := rep.UAS
			if u == nil {
				u = &calldialZero
			}
			ratio := "-"
			if base > 0 && g.USPerPacket > 0 {
				ratio = fmt.Sprintf("%.2fx", g.USPerPacket/base)
			}
			line(r.Point.Name, fmt.Sprintf("%d/%d", rep.Answered, rep.Attempted), fmt.Sprint(rep.PeakHeld),
				fmt.Sprintf("%.4f", rep.Media.LossPct),
				fmt.Sprintf("%d/%d", rep.Media.SocketDrops["gateway_ice"], rep.Media.SocketDrops["uas_rtp"]),
				fmt.Sprintf("%.0f/%.0f/%.0f", rep.SetupMS.P50, rep.SetupMS.P95, rep.SetupMS.P99),
				fmt.Sprintf("%.0f ms", rep.FirstMediaMS.P95),
				fmt.Sprintf("%.1f ms", rep.Media.CallJitterMS.P95),
				fmt.Sprintf("%.1f ms", rep.Media.CallRTTMeanMS.P95),
				fmt.Sprintf("%.1f", g.USPerPacket), ratio, fmt.Sprintf("%.1f", g.USPerPacketRun),
				fmt.Sprintf("%.0f", g.WindowCPUPct), fmt.Sprintf("%.3f", g.MBPerCall),
				fmt.Sprintf("%.1f", rep.Calldial.USPerPacket), fmt.Sprintf("%.1f", u.USPerPacket), topFailure(rep.Failures))
		}
		line()
	}
	var ramp []Result
	for _, r := range res.Load {
		if r.Point.Ramp {
			ramp = append(ramp, r)
		}
	}
	if len(ramp) > 0 {
		line("setup ramp", "asked/s", "started/s", "answered", "failed", "setup p50/p95/p99 ms", "1st media p95", "peak held", "gw cpu %", "gw ms cpu/call", "gw wake-ups/call", "gw idle ms/s before/after", "calldial cpu %", "top failure")
		for _, r := range ramp {
			if r.Report == nil {
				line(r.Point.Name, fmt.Sprintf("%.0f", r.Point.Rate), "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", firstLine(r.Error))
				continue
			}
			rep := r.Report
			gcpu, wakes, idle := 0.0, "-", "-"
			if g := rep.Gateway; g != nil {
				gcpu = g.CPUPercent
				if g.Timeslices > 0 && rep.Answered > 0 {
					wakes = fmt.Sprintf("%.0f", float64(g.Timeslices)/float64(rep.Answered))
				}
				if g.IdleBefore > 0 || g.IdleAfter > 0 {
					idle = fmt.Sprintf("%.1f/%.1f", g.IdleBefore, g.IdleAfter)
				}
			}
			line(r.Point.Name, fmt.Sprintf("%.0f", r.Point.Rate), fmt.Sprintf("%.0f", rep.AttemptRate),
				fmt.Sprintf("%d/%d", rep.Answered, rep.Attempted), fmt.Sprint(rep.Failed),
				fmt.Sprintf("%.0f/%.0f/%.0f", rep.SetupMS.P50, rep.SetupMS.P95, rep.SetupMS.P99),
				fmt.Sprintf("%.0f ms", rep.FirstMediaMS.P95), fmt.Sprint(rep.PeakHeld),
				fmt.Sprintf("%.0f", gcpu), figure(setupCPUMS(r.Point, rep), "%.2f"), wakes, idle, fmt.Sprintf("%.0f", rep.Calldial.CPUPercent), topFailure(rep.Failures))
		}
		line()
	}
	printJanus(line, res)
	for _, r := range res.Load {
		if r.Report == nil && !r.Point.Ramp {
			fmt.Fprintf(tw, "%s: %s\n", r.Point.Name, firstLine(r.Error))
		}
	}
	if len(res.Go) > 0 {
		line("go benchmark", "ns/op", "B/op", "allocs/op", "other", "vs baseline")
		for _, g := range res.Go {
			var extra []string
			keys := make([]string, 0, len(g.Extra))
			for k := range g.Extra {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				extra = append(extra, fmt.Sprintf("%.2f %s", g.Extra[k], k))
			}
			line(shortPkg(g.Package)+"."+g.Name, fmt.Sprintf("%.0f", g.NsPerOp), fmt.Sprintf("%.0f", g.BytesPerOp),
				fmt.Sprintf("%.0f", g.AllocsPerOp), strings.Join(extra, ", "), baselineRatio(g, res.Go))
		}
		line()
	}
	tw.Flush()
	if res.GoError != "" {
		fmt.Fprintf(w, "go benchmarks: %s\n\n", res.GoError)
	}
	printGoals(w, res.Goals)
	if len(res.Targets) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "target\treached\tmet")
		for _, t := range res.Targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Target, t.Reached, met)
		}
		tw.Flush()
	}
}

var calldialZero = calldialProcZero()

// baselineRatio compares a relay loop variant with the naive loop of the
// same traffic shape ("RelayLoop/batch-w32" against "RelayLoop/naive-w32"),
// on the CPU per packet when measured, else ns/op.
func baselineRatio(g GoBench, all []GoBench) string {
	if !strings.Contains(g.Name, "/") || strings.Contains(g.Name, "/naive") {
		return ""
	}
	i := strings.Index(g.Name, "/")
	rest := g.Name[i+1:]
	j := strings.Index(rest, "-")
	if j < 0 {
		return ""
	}
	want := g.Name[:i+1] + "naive" + rest[j:]
	for _, b := range all {
		if b.Package == g.Package && b.Name == want {
			if c, ok := g.Extra["cpu-ns/pkt"]; ok && b.Extra["cpu-ns/pkt"] > 0 {
				return fmt.Sprintf("%.2fx naive cpu", c/b.Extra["cpu-ns/pkt"])
			}
			if b.NsPerOp > 0 {
				return fmt.Sprintf("%.2fx naive", g.NsPerOp/b.NsPerOp)
			}
		}
	}
	return ""
}

func shortPkg(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func topFailure(f map[string]int) string {
	best, n := "", 0
	for k, v := range f {
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d x %s", n, best)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
