package calldial

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// Report is the outcome of a run (calldial --json prints it).
type Report struct {
	Codec       string  `json:"codec"`
	Rate        float64 `json:"rate_per_sec"`
	Concurrency int     `json:"concurrency"`
	Total       int     `json:"total"`
	HoldSec     float64 `json:"hold_sec"`
	DurationSec float64 `json:"duration_sec"`

	Attempted int `json:"attempted"`
	Answered  int `json:"answered"`
	// Failed counts calls not answered, and answered calls whose media did
	// not flow or that ended before their hold time; Failures by cause.
	Failed   int            `json:"failed"`
	Failures map[string]int `json:"failures,omitempty"`
	// AttemptRate is the rate calls were actually started at.
	AttemptRate float64 `json:"attempt_rate_per_sec"`
	PeakHeld    int     `json:"peak_concurrent_held"`

	// SetupMS is token request to 200 OK; FirstMediaMS token request to
	// the first echoed packet.
	SetupMS      Percentiles `json:"setup_ms"`
	FirstMediaMS Percentiles `json:"first_media_ms"`

	Media MediaSummary `json:"media"`
	// FastPath is how many calls' media left pion for a dtlssrtp session.
	FastPath FastPathSummary `json:"fast_path"`

	Gateway *ProcFigures `json:"gateway,omitempty"`
	UAS     *ProcFigures `json:"uas,omitempty"`
	// Calldial is the load generator's own CPU (pion for signalling and
	// handshakes, then its own SRTP per call: most of it is the kernel's
	// loopback send and receive), kept apart so the gateway's figures
	// stay honest.
	Calldial ProcFigures `json:"calldial"`
}

// Percentiles summarise a distribution.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// MediaSummary is the audio of all answered calls: packets sent by the
// callers, echoes received (each crossed the gateway twice), and per-call
// loss, jitter and round trip.
type MediaSummary struct {
	Sent     uint64  `json:"packets_sent"`
	Received uint64  `json:"packets_received"`
	Lost     uint64  `json:"packets_lost"`
	LossPct  float64 `json:"loss_pct"`
	// PacerSkipped counts 20 ms periods calldial could not send in time
	// (itself short of CPU): fewer packets, not loss.
	PacerSkipped   uint64      `json:"pacer_skipped_periods"`
	CallLossPct    Percentiles `json:"call_loss_pct"`
	CallJitterMS   Percentiles `json:"call_jitter_ms"`
	CallRTTMeanMS  Percentiles `json:"call_rtt_mean_ms"`
	CallRTTMaxMS   Percentiles `json:"call_rtt_max_ms"`
	CallsWithMedia int         `json:"calls_with_media"`
	// SocketDrops are the kernel's receive-buffer drops of the watched
	// sockets during the run.
	SocketDrops map[string]uint64 `json:"socket_drops,omitempty"`
}

// FastPathSummary counts the calls whose SRTP calldial carried itself
// (internal/dtlssrtp) after the first echo instead of through pion's
// per-packet goroutines. A call whose keys could not be learnt stayed on
// pion's path: counted under Failures by cause, not a failed call.
type FastPathSummary struct {
	Calls int `json:"calls"`
	// Of is the number of calls that reached media.
	Of           int            `json:"of"`
	Failures     map[string]int `json:"failures,omitempty"`
	PacketsSent  uint64         `json:"packets_sent"`
	PacketsRecvd uint64         `json:"packets_received"`
}

// ProcFigures is what one process spent.
type ProcFigures struct {
	PID        int     `json:"pid,omitempty"`
	CPUSec     float64 `json:"cpu_sec"`
	CPUPercent float64 `json:"cpu_pct"` // of one core, over the run
	// Steady window: all calls up, none starting or ending.
	WindowSec     float64 `json:"steady_window_sec,omitempty"`
	WindowPackets uint64  `json:"steady_window_packets,omitempty"`
	WindowCPUPct  float64 `json:"steady_cpu_pct,omitempty"`
	// USPerPacket is CPU µs per relayed packet in the steady window (each
	// packet crosses the gateway once: caller->UAS, or the echo back).
	USPerPacket float64 `json:"us_per_packet,omitempty"`
	// USPerPacketRun is the same over the whole run, setups included.
	USPerPacketRun float64 `json:"us_per_packet_run,omitempty"`
	RSSBaseMB      float64 `json:"rss_base_mb,omitempty"`
	RSSPeakMB      float64 `json:"rss_peak_mb,omitempty"`
	MBPerCall      float64 `json:"mb_per_call,omitempty"`
	// Timeslices is how often the process's threads were put on a CPU
	// over the run (ProcThreads; gateway only).
	Timeslices uint64 `json:"timeslices,omitempty"`
	// IdleBefore and IdleAfter are ms of CPU per s with no calls, before
	// the run and after it (Options.IdleWindow; gateway only).
	IdleBefore float64 `json:"idle_before_ms_per_s,omitempty"`
	IdleAfter  float64 `json:"idle_after_ms_per_s,omitempty"`
}

func percentiles(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	sort.Float64s(v)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(v)))) - 1
		return v[max(0, min(i, len(v)-1))]
	}
	return Percentiles{N: len(v), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: v[len(v)-1]}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// steadyWindow is the longest span of samples in which every call was up
// and sending and none started or ended; ok is false if there is none.
func steadyWindow(s []sample) (a, b sample, ok bool) {
	best := 0.0
	for i := 0; i < len(s); i++ {
		if s[i].held == 0 || s[i].pacing != s[i].held {
			continue
		}
		for j := i + 1; j < len(s); j++ {
			if s[j].attempted != s[i].attempted || s[j].finished != s[i].finished ||
				s[j].held != s[i].held || s[j].pacing != s[i].pacing {
				break
			}
			if d := s[j].at.Sub(s[i].at).Seconds(); d > best {
				best, a, b, ok = d, s[i], s[j], true
			}
		}
	}
	return a, b, ok
}

func (r *runner) report(samples []sample, start, end time.Time) *Report {
	o := r.opt
	rep := &Report{Codec: r.codec.params.MimeType[len("audio/"):], Rate: o.Rate, Concurrency: o.Concurrency,
		Total: o.Total, HoldSec: o.Hold.Seconds(), DurationSec: end.Sub(start).Seconds(),
		Failures: map[string]int{}, FastPath: FastPathSummary{Failures: map[string]int{}}}
	rep.Codec = strings.ToLower(rep.Codec)
	var setup, media, loss, jit, rttMean, rttMax []float64
	for _, c := range r.results {
		if c.Answered {
			rep.Answered++
			setup = append(setup, ms(c.Setup))
		}
		if c.FirstMedia > 0 {
			media = append(media, ms(c.FirstMedia))
		}
		if c.Failure != "" {
			rep.Failed++
			rep.Failures[c.Failure]++
		}
		m := c.Media
		if c.Fast {
			rep.FastPath.Calls++
		} else if c.FastFailure != "" {
			rep.FastPath.Failures[c.FastFailure]++
		}
		if c.Fast || c.FastFailure != "" {
			rep.FastPath.Of++
		}
		rep.FastPath.PacketsSent += m.FastSent
		rep.FastPath.PacketsRecvd += m.FastReceived
		rep.Media.Sent += m.Sent
		rep.Media.Received += m.Received
		rep.Media.Lost += m.Lost
		if m.Sent > 0 {
			rep.Media.CallsWithMedia++
			loss = append(loss, float64(m.Lost)/float64(m.Sent)*100)
			jit = append(jit, m.JitterMS)
			rttMean = append(rttMean, m.RTTMeanMS)
			rttMax = append(rttMax, m.RTTMaxMS)
		}
	}
	rep.Attempted = len(r.results)
	if d := r.lastStart.Sub(start).Seconds(); d > 0 && rep.Attempted > 1 {
		rep.AttemptRate = float64(rep.Attempted-1) / d
	}
	rep.SetupMS = percentiles(setup)
	rep.FirstMediaMS = percentiles(media)
	if rep.Media.Sent > 0 {
		rep.Media.LossPct = float64(rep.Media.Lost) / float64(rep.Media.Sent) * 100
	}
	rep.Media.PacerSkipped = r.pace.skipped.Load()
	rep.Media.CallLossPct = percentiles(loss)
	rep.Media.CallJitterMS = percentiles(jit)
	rep.Media.CallRTTMeanMS = percentiles(rttMean)
	rep.Media.CallRTTMaxMS = percentiles(rttMax)
	for _, s := range samples {
		rep.PeakHeld = max(rep.PeakHeld, int(s.held))
	}

	first, last := samples[0], samples[len(samples)-1]
	span := last.at.Sub(first.at).Seconds()
	pkts := (last.sent - first.sent) + (last.received - first.received)
	wa, wb, steady := steadyWindow(samples)
	fig := func(pid int, cpu func(sample) time.Duration) *ProcFigures {
		f := &ProcFigures{PID: pid, CPUSec: (cpu(last) - cpu(first)).Seconds()}
		if span > 0 {
			f.CPUPercent = f.CPUSec / span * 100
		}
		if pkts > 0 {
			f.USPerPacketRun = f.CPUSec * 1e6 / float64(pkts)
		}
		if steady {
			f.WindowSec = wb.at.Sub(wa.at).Seconds()
			f.WindowPackets = (wb.sent - wa.sent) + (wb.received - wa.received)
			c := (cpu(wb) - cpu(wa)).Seconds()
			f.WindowCPUPct = c / f.WindowSec * 100
			if f.WindowPackets > 0 {
				f.USPerPacket = c * 1e6 / float64(f.WindowPackets)
			}
		}
		return f
	}
	if o.GatewayPID > 0 {
		rep.Gateway = fig(o.GatewayPID, func(s sample) time.Duration { return s.gwCPU })
		rep.Gateway.RSSBaseMB = float64(first.gwRSS) / (1 << 20)
		if last.gwSlices >= first.gwSlices {
			rep.Gateway.Timeslices = last.gwSlices - first.gwSlices
		}
		var peak int64
		for _, s := range samples {
			peak = max(peak, s.gwRSS)
		}
		rep.Gateway.RSSPeakMB = float64(peak) / (1 << 20)
		if rep.PeakHeld > 0 {
			rep.Gateway.MBPerCall = (rep.Gateway.RSSPeakMB - rep.Gateway.RSSBaseMB) / float64(rep.PeakHeld)
		}
	}
	if o.UASPID > 0 {
		rep.UAS = fig(o.UASPID, func(s sample) time.Duration { return s.uasCPU })
	}
	rep.Calldial = *fig(0, func(s sample) time.Duration { return s.self })
	return rep
}

// Print writes the report for people.
func (rep *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "calls: %d attempted, %d answered, %d failed (%s, %.0f calls/s asked, concurrency %d, hold %.0fs, %.1fs in all)\n",
		rep.Attempted, rep.Answered, rep.Failed, rep.Codec, rep.Rate, rep.Concurrency, rep.HoldSec, rep.DurationSec)
	causes := make([]string, 0, len(rep.Failures))
	for c := range rep.Failures {
		causes = append(causes, c)
	}
	sort.Slice(causes, func(i, j int) bool { return rep.Failures[causes[i]] > rep.Failures[causes[j]] })
	for _, c := range causes {
		fmt.Fprintf(w, "  %6d  %s\n", rep.Failures[c], c)
	}
	fmt.Fprintf(w, "peak concurrent calls held: %d\n", rep.PeakHeld)
	pr := func(name string, p Percentiles, unit string) {
		fmt.Fprintf(w, "%-28s p50 %8.2f  p95 %8.2f  p99 %8.2f  max %8.2f %s (n=%d)\n", name, p.P50, p.P95, p.P99, p.Max, unit, p.N)
	}
	pr("setup, token to 200 OK:", rep.SetupMS, "ms")
	pr("setup, token to 1st media:", rep.FirstMediaMS, "ms")
	m := rep.Media
	fmt.Fprintf(w, "media: %d packets sent, %d echoed back, %d lost (%.4f%%), %d late pacer periods\n",
		m.Sent, m.Received, m.Lost, m.LossPct, m.PacerSkipped)
	if len(m.SocketDrops) > 0 {
		names := make([]string, 0, len(m.SocketDrops))
		for n := range m.SocketDrops {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprint(w, "  kernel drops (receive buffer full):")
		for _, n := range names {
			fmt.Fprintf(w, " %s %d", n, m.SocketDrops[n])
		}
		fmt.Fprintln(w)
	}
	f := rep.FastPath
	fmt.Fprintf(w, "fast path: %d of %d calls (%d packets sent, %d received outside pion)\n", f.Calls, f.Of, f.PacketsSent, f.PacketsRecvd)
	for c, n := range f.Failures {
		fmt.Fprintf(w, "  %6d  stayed on pion: %s\n", n, c)
	}
	pr("per call loss:", m.CallLossPct, "%")
	pr("per call jitter:", m.CallJitterMS, "ms")
	pr("per call round trip (mean):", m.CallRTTMeanMS, "ms")
	pr("per call round trip (max):", m.CallRTTMaxMS, "ms")
	proc := func(name string, f *ProcFigures) {
		if f == nil {
			return
		}
		fmt.Fprintf(w, "%-9s cpu %.2fs (%.0f%% of a core)", name, f.CPUSec, f.CPUPercent)
		if f.USPerPacket > 0 {
			fmt.Fprintf(w, ", steady %.0f%% over %.0fs: %.2f µs/packet", f.WindowCPUPct, f.WindowSec, f.USPerPacket)
		}
		if f.USPerPacketRun > 0 {
			fmt.Fprintf(w, ", whole run %.2f µs/packet", f.USPerPacketRun)
		}
		if f.RSSPeakMB > 0 {
			fmt.Fprintf(w, ", rss %.1f -> %.1f MB (%.3f MB/call)", f.RSSBaseMB, f.RSSPeakMB, f.MBPerCall)
		}
		fmt.Fprintln(w)
	}
	proc("gateway", rep.Gateway)
	proc("uas", rep.UAS)
	proc("calldial", &rep.Calldial)
}
