package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"edgebox/internal/sysapi"
)

// The dashboard reads the services' status documents by field path, so it
// keeps working while their typed APIs grow; a missing field shows as "—".

// get walks a generic JSON document by dotted path.
func get(m map[string]any, p string) any {
	var cur any = m
	for _, k := range strings.Split(p, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func gets(m map[string]any, p string) string {
	switch v := get(m, p).(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%g", v)
	case bool:
		if v {
			return "yes"
		}
		return "no"
	}
	return ""
}

func getf(m map[string]any, p string) (float64, bool) {
	v, ok := get(m, p).(float64)
	return v, ok
}

func getl(m map[string]any, p string) []map[string]any {
	l, _ := get(m, p).([]any)
	var out []map[string]any
	for _, e := range l {
		if mm, ok := e.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

type uplinkView struct {
	Name, Interface, State, Address, Error string
	Active, Healthy                        bool
	Rx, Tx                                 float64
}

type modemView struct {
	State, Operator, Tech, Registration, SIM, Model, Error string
	SignalDBm                                              string
	SignalQuality                                          string
	Chart                                                  *chart
}

type panel struct {
	Title       string
	Unavailable string
	State       string
	Lines       [][2]string
}

type dashboard struct {
	Board, Version, Hostname, Uptime, Perm string
	InitError                              string
	NetError                               string
	Active, Why                            string
	Uplinks                                []uplinkView
	Modem                                  *modemView
	VPN, Trunk                             panel
	Calls                                  string
	Services                               []sysapi.Service
	Logs                                   logsView
}

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request, se *session) {
	st := s.status(r.Context())
	d := dashboard{}
	if st.System != nil {
		d.Board, d.Version, d.Hostname = st.System.Board, st.System.Version, st.System.Hostname
		d.Uptime = humanDuration(time.Duration(st.System.UptimeSec) * time.Second)
		d.Perm = st.System.Perm
		d.Services = st.System.Services
	} else {
		d.InitError = "init is not reachable: " + st.Unavailable["init"]
	}
	if n := st.Network; n != nil {
		d.Active = gets(n, "active")
		for _, u := range getl(n, "uplinks") {
			uv := uplinkView{Name: gets(u, "name"), Interface: gets(u, "interface"), State: gets(u, "state"), Address: gets(u, "address"), Error: gets(u, "last_error")}
			uv.Active, _ = get(u, "active").(bool)
			uv.Healthy, _ = get(u, "health.healthy").(bool)
			if uv.Error == "" {
				uv.Error = gets(u, "health.last_error")
			}
			uv.Rx, _ = getf(u, "rx_bytes")
			uv.Tx, _ = getf(u, "tx_bytes")
			d.Uplinks = append(d.Uplinks, uv)
		}
		d.Why = uplinkWhy(d.Active, d.Uplinks)
		if m, ok := get(n, "modem").(map[string]any); ok {
			d.Modem = modemPanel(m)
		}
	} else {
		d.NetError = "Network service not available: " + st.Unavailable["netctl"]
	}
	d.VPN = vpnPanel(st)
	d.Trunk, d.Calls = gatewayPanel(st)
	d.Logs = s.recentLogs(r, r.URL.Query().Get("logs"), 12)
	p := s.authedPage(se, "Dashboard", "dashboard", d)
	p.Refresh = 10
	s.render(w, r, http.StatusOK, "dashboard", p)
}

// uplinkWhy says in one sentence why the active uplink carries traffic.
func uplinkWhy(active string, ups []uplinkView) string {
	if active == "" {
		if len(ups) == 0 {
			return "No uplink is configured."
		}
		var bad []string
		for _, u := range ups {
			bad = append(bad, fmt.Sprintf("%s is %s", u.Name, u.State))
		}
		return "No uplink works: " + strings.Join(bad, ", ") + "."
	}
	var skipped []string
	for _, u := range ups {
		if u.Name == active {
			break
		}
		why := u.State
		if u.Error != "" {
			why += " (" + u.Error + ")"
		}
		skipped = append(skipped, u.Name+" is "+why)
	}
	if len(skipped) == 0 {
		return "Using " + active + ": it is the preferred uplink and it is healthy."
	}
	return "Using " + active + " because " + strings.Join(skipped, ", ") + "."
}

func modemPanel(m map[string]any) *modemView {
	mv := &modemView{
		State:        gets(m, "state"),
		Operator:     gets(m, "registration.operator"),
		Tech:         strings.ToUpper(gets(m, "registration.tech")),
		Registration: gets(m, "registration.state"),
		SIM:          gets(m, "sim.state"),
		Model:        strings.TrimSpace(gets(m, "identity.manufacturer") + " " + gets(m, "identity.model")),
		Error:        gets(m, "error"),
	}
	if v, ok := signalOf(get(m, "signal")); ok {
		mv.SignalDBm = fmt.Sprintf("%.0f dBm", v)
		mv.SignalQuality = signalWords(v)
	}
	var pts []point
	for _, h := range getl(m, "signal_history") {
		t, err := time.Parse(time.RFC3339Nano, gets(h, "time"))
		v, ok := signalOf(get(h, "signal"))
		if err == nil && ok {
			pts = append(pts, point{t, v})
		}
	}
	if len(pts) > 1 {
		mv.Chart = newChart(pts)
	}
	return mv
}

// signalOf picks the received power: RSRP on LTE, else RSCP, else RSSI.
func signalOf(v any) (float64, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return 0, false
	}
	for _, k := range []string{"rssi_dbm", "rsrp_dbm", "rscp_dbm"} {
		if f, ok := getf(m, k); ok {
			return f, true
		}
	}
	return 0, false
}

func signalWords(rssi float64) string {
	switch {
	case rssi >= -70:
		return "excellent"
	case rssi >= -85:
		return "good"
	case rssi >= -100:
		return "fair"
	}
	return "poor"
}

func vpnPanel(st Status) panel {
	p := panel{Title: "VPN"}
	v := st.VPN
	if v == nil {
		p.Unavailable = "VPN service not available."
		return p
	}
	p.State = strings.ToLower(strings.ReplaceAll(v.State, "_", " "))
	add := func(k, val string) {
		if val != "" {
			p.Lines = append(p.Lines, [2]string{k, val})
		}
	}
	if v.Profile != nil {
		add("Profile", v.Profile.Name)
	}
	add("Server", v.Remote)
	add("Tunnel address", v.TunnelAddress)
	if v.ConnectedSince != nil {
		add("Connected", ago(*v.ConnectedSince))
	}
	add("Via uplink", v.Uplink)
	add("Detail", v.Detail)
	if v.LastError != "" {
		add("Last problem", v.LastError)
	}
	if v.BytesIn+v.BytesOut > 0 {
		add("Traffic", "↓ "+humanBytes(float64(v.BytesIn))+" · ↑ "+humanBytes(float64(v.BytesOut)))
	}
	return p
}

// gatewayPanel reads the gateway's status (gateway.Status as JSON).
func gatewayPanel(st Status) (panel, string) {
	g := st.Gateway
	if g == nil {
		return panel{Title: "SIP trunk", Unavailable: "Gateway service not available."}, "—"
	}
	p := panel{Title: "SIP trunk"}
	reg := gets(g, "registration")
	p.State, _, _ = strings.Cut(reg, ":")
	if enabled, ok := g["enabled"].(bool); ok && !enabled {
		p.State = "disabled"
	}
	if _, detail, ok := strings.Cut(reg, ": "); ok {
		p.Lines = append(p.Lines, [2]string{"Problem", detail})
	}
	if v := gets(g, "pbx"); v != "" {
		p.Lines = append(p.Lines, [2]string{"PBX", v})
	}
	if v, ok := getf(g, "ice_port"); ok {
		mode := "full ICE"
		if lite, _ := g["ice_lite"].(bool); lite {
			mode = "ICE-lite"
		}
		p.Lines = append(p.Lines, [2]string{"WebRTC port", fmt.Sprintf("UDP %.0f (%s)", v, mode)})
	}
	if d, _ := g["draining"].(bool); d {
		p.Lines = append(p.Lines, [2]string{"New calls", "refused: the box is draining before a restart (edgectl undrain takes calls again)"})
	}
	calls := "—"
	if v, ok := getf(g, "active_calls"); ok {
		calls = fmt.Sprintf("%.0f", v)
	}
	return p, calls
}

type point struct {
	T time.Time
	V float64
}

// chart is a small SVG line chart of the signal over time.
type chart struct {
	Line, Area    string
	Min, Max      string
	From, To      string
	Width, Height int
	YTop, YBottom int
}

func newChart(pts []point) *chart {
	const w, h, pad = 300, 90, 14
	sort.Slice(pts, func(i, j int) bool { return pts[i].T.Before(pts[j].T) })
	lo, hi := pts[0].V, pts[0].V
	for _, p := range pts {
		lo, hi = min(lo, p.V), max(hi, p.V)
	}
	if hi-lo < 10 {
		mid := (hi + lo) / 2
		lo, hi = mid-5, mid+5
	}
	t0, t1 := pts[0].T, pts[len(pts)-1].T
	span := t1.Sub(t0).Seconds()
	if span <= 0 {
		span = 1
	}
	var b strings.Builder
	x := func(t time.Time) float64 { return 46 + (w-50)*t.Sub(t0).Seconds()/span }
	y := func(v float64) float64 { return pad + (h-2*pad)*(hi-v)/(hi-lo) }
	for i, p := range pts {
		if i == 0 {
			fmt.Fprintf(&b, "M%.1f %.1f", x(p.T), y(p.V))
		} else {
			fmt.Fprintf(&b, " L%.1f %.1f", x(p.T), y(p.V))
		}
	}
	line := b.String()
	area := fmt.Sprintf("%s L%.1f %d L%.1f %d Z", line, x(t1), h-pad, x(t0), h-pad)
	return &chart{Line: line, Area: area, Min: fmt.Sprintf("%.0f", lo), Max: fmt.Sprintf("%.0f", hi),
		From: t0.Local().Format("15:04"), To: t1.Local().Format("15:04"), Width: w, Height: h, YTop: pad + 4, YBottom: h - pad}
}
