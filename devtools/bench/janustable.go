package bench

import (
	"fmt"

	"edgebox/devtools/calldial"
)

// printJanus writes the rows of Janus beside the gateway: each point both
// ran, the figures of each and Janus's over the gateway's (above 1: Janus
// spends more).
func printJanus(line func(...string), res Results) {
	var rows []Result
	for _, r := range res.Load {
		if r.Janus != nil {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	line("janus beside the gateway", "answered gw/janus", "janus loss %",
		"gw µs/pkt", "janus µs/pkt", "janus/gw",
		"gw ms cpu/set-up", "janus ms cpu/set-up", "janus/gw",
		"gw MB/call", "janus MB/call", "janus/gw", "janus top failure")
	for _, r := range rows {
		j := r.Janus
		if j.Report == nil {
			line(r.Point.Name, answered(r.Report)+"/-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", firstLine(j.Error))
			continue
		}
		g, jr := r.Report, j.Report
		gus, jus := usPerPacket(g), usPerPacket(jr)
		gms, jms := setupCPUMS(r.Point, g), setupCPUMS(r.Point, jr)
		gmb, jmb := mbPerCall(g), mbPerCall(jr)
		failure := topFailure(jr.Failures)
		if failure == "" && j.Error != "" {
			failure = firstLine(j.Error)
		}
		line(r.Point.Name, answered(g)+"/"+answered(jr), fmt.Sprintf("%.4f", jr.Media.LossPct),
			figure(gus, "%.1f"), figure(jus, "%.1f"), ratio(jus, gus),
			figure(gms, "%.2f"), figure(jms, "%.2f"), ratio(jms, gms),
			figure(gmb, "%.3f"), figure(jmb, "%.3f"), ratio(jmb, gmb), failure)
	}
	line()
}

func answered(rep *calldial.Report) string {
	if rep == nil {
		return "-"
	}
	return fmt.Sprintf("%d", rep.Answered)
}

// usPerPacket is the process's CPU per relayed packet in the steady window.
func usPerPacket(rep *calldial.Report) float64 {
	if rep == nil || rep.Gateway == nil {
		return 0
	}
	return rep.Gateway.USPerPacket
}

// setupCPUMS is the process's CPU per answered call at a set-up point.
// The matrix's ramps hang each call up at its first echoed packet
// (Hold 0), so this is token to first media plus the BYE, with the few
// packets relayed until then (setupCounted says how many). Load points
// with calls held have none (their CPU is the media's), nor has a point
// that answered under 95 % of its calls (the CPU of the calls that
// failed would be counted on the few that did not).
func setupCPUMS(p Point, rep *calldial.Report) float64 {
	if !p.Ramp || rep == nil || rep.Gateway == nil || rep.Answered == 0 || rep.Answered*100 < rep.Attempted*95 {
		return 0
	}
	return rep.Gateway.CPUSec * 1000 / float64(rep.Answered)
}

// setupCounted says what setupCPUMS counted at a set-up point beside the
// set-up: the media packets the gateway relayed per answered call (sent
// by the callers plus echoes back), and the hold when a saved run had
// one (its media then is in the figure).
func setupCounted(p Point, rep *calldial.Report) string {
	if rep == nil || rep.Answered == 0 {
		return ""
	}
	pkts := float64(rep.Media.Sent+rep.Media.Received) / float64(rep.Answered)
	if p.Hold > 0 {
		return fmt.Sprintf("incl. %v of media per call, %.0f pkts relayed per call", p.Hold, pkts)
	}
	return fmt.Sprintf("hung up at first media: %.1f pkts relayed per call", pkts)
}

func mbPerCall(rep *calldial.Report) float64 {
	if rep == nil || rep.Gateway == nil {
		return 0
	}
	return rep.Gateway.MBPerCall
}

// figure prints v, or "-" when it was not measured.
func figure(v float64, format string) string {
	if v <= 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// ratio is a over b ("-" unless both were measured).
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}
