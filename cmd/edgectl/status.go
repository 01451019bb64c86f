package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/webapi"
	"edgebox/internal/paths"
	"edgebox/internal/sysapi"
)

func init() {
	register("status", command{usage: "status", help: "the box at a glance: uplink, modem, VPN, trunk, services", run: runStatus})
}

// webClient talks to the web service's API: its socket on the box, the
// forwarded socket remotely (remote.go).
func webClient() webapi.Client { return webapi.NewClient() }

func fetchStatus(ctx context.Context) (webapi.Status, error) {
	var st webapi.Status
	if _, err := os.Stat(paths.Socket("web")); err != nil {
		// web is not running: init alone still tells a lot.
		sys, err := sysapi.NewClient().Status(ctx)
		if err != nil {
			return st, fmt.Errorf("neither web nor init answer: %w", err)
		}
		st = webapi.Status{Time: time.Now().UTC(), System: &sys, Unavailable: map[string]string{"web": "not running"}}
		return st, nil
	}
	return webClient().Status(ctx)
}

func runStatus(ctx context.Context, g *globals, args []string) error {
	st, err := fetchStatus(ctx)
	if err != nil {
		return err
	}
	if g.JSON {
		return printJSON(st)
	}
	fmt.Print(formatStatus(st))
	return nil
}

// formatStatus renders the status for people.
func formatStatus(st webapi.Status) string {
	var b strings.Builder
	if s := st.System; s != nil {
		fmt.Fprintf(&b, "%s  board %s  firmware %s  up %s  storage %s\n", s.Hostname, s.Board, s.Version,
			(time.Duration(s.UptimeSec) * time.Second).Round(time.Second), s.Perm)
	}
	if n := st.Network; n != nil {
		active := n.Active
		if active == "" {
			active = "none"
		}
		fmt.Fprintf(&b, "uplink   %s\n", active)
		for _, u := range n.Uplinks {
			fmt.Fprintf(&b, "  %-6s %-12s %s\n", u.Name, u.State, u.Address)
		}
		if m := n.Modem; m != nil {
			var reg modemapi.Registration
			if m.Registration != nil {
				reg = *m.Registration
			}
			var sim modemapi.SIMStatus
			if m.SIM != nil {
				sim = *m.SIM
			}
			sig := ""
			if s := m.Signal; s != nil {
				for _, p := range []*int{s.RSSI, s.RSRP, s.RSCP} {
					if p != nil {
						sig = fmt.Sprintf("%d dBm", *p)
						break
					}
				}
			}
			fmt.Fprintf(&b, "modem    %s  %s %s  signal %s  SIM %s\n", m.State, reg.Operator, strings.ToUpper(string(reg.Tech)), stDash(sig), stDash(string(sim.State)))
		}
	}
	if v := vpnState(st); v != "" {
		fmt.Fprintf(&b, "vpn      %s\n", v)
	}
	if gw := st.Gateway; gw != nil {
		fmt.Fprintf(&b, "trunk    %s  %s\n", stDash(gw.Registration), gw.PBX)
		fmt.Fprintf(&b, "calls    %d active\n", gw.ActiveCalls)
	}
	if s := st.System; s != nil {
		rows := [][]string{{"SERVICE", "STATE", "RESTARTS"}}
		for _, sv := range s.Services {
			rows = append(rows, []string{sv.Name, sv.State, fmt.Sprint(sv.Restarts)})
		}
		b.WriteString(tableString(rows))
	}
	var down []string
	for k, v := range st.Unavailable {
		down = append(down, k+": "+v)
	}
	sort.Strings(down)
	for _, d := range down {
		fmt.Fprintf(&b, "not available  %s\n", d)
	}
	return b.String()
}

func vpnState(st webapi.Status) string {
	v := st.VPN
	if v == nil {
		return ""
	}
	out := v.State
	if v.Remote != "" {
		out += "  " + v.Remote
	}
	if v.TunnelAddress != "" {
		out += "  " + v.TunnelAddress
	}
	if v.LastError != "" {
		out += "  (" + v.LastError + ")"
	}
	return out
}

func stDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tableString is table() into a string, for output built up first.
func tableString(rows [][]string) string {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			fmt.Fprintf(&line, "%-*s  ", width[i], c)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return b.String()
}
