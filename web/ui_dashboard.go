package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
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
	// Notes are init's words on the box's storage and settings when
	// something is wrong with them (a damaged config, /perm not mounted).
	Notes       []string
	Active, Why string
	Uplinks     []uplinkView
	Modem       *modemView
	VPN, Trunk  panel
	Calls       string
	Services    []sysapi.Service
	Logs        logsView
}

func (s *Server) pageDashboard(w http.ResponseWriter, r *http.Request, se *session) {
	st := s.status(r.Context())
	lang := langOf(r)
	d := dashboard{}
	if st.System != nil {
		d.Board, d.Version, d.Hostname = st.System.Board, st.System.Version, st.System.Hostname
		d.Uptime = humanDuration(time.Duration(st.System.UptimeSec) * time.Second)
		d.Perm = st.System.Perm
		d.Services = st.System.Services
		if n := st.System.ConfigNote; n != "" {
			d.Notes = append(d.Notes, n)
		}
		if n := st.System.PermNote; n != "" && st.System.Perm != "mounted" {
			d.Notes = append(d.Notes, n)
		}
	} else {
		d.InitError = trf(lang, "init is not reachable: %s", st.Unavailable["init"])
	}
	if n := st.Network; n != nil {
		d.Active = n.Active
		for _, u := range n.Uplinks {
			uv := uplinkView{Name: u.Name, Interface: u.Interface, State: u.State, Address: u.Address, Error: trMessage(lang, u.LastError)}
			uv.Active = u.Active
			uv.Healthy = u.Health.Healthy
			if uv.Error == "" {
				uv.Error = trMessage(lang, u.Health.LastError)
			}
			uv.Rx, uv.Tx = float64(u.RxBytes), float64(u.TxBytes)
			d.Uplinks = append(d.Uplinks, uv)
		}
		d.Why = uplinkWhy(lang, d.Active, d.Uplinks)
		if n.Modem != nil {
			d.Modem = modemPanel(n.Modem)
			d.Modem.Error = trMessage(lang, d.Modem.Error)
			d.Modem.SignalQuality = tr(lang, d.Modem.SignalQuality)
		}
	} else {
		d.NetError = trf(lang, "Network service not available: %s", st.Unavailable["netctl"])
	}
	d.VPN = vpnPanel(lang, st)
	d.Trunk, d.Calls = gatewayPanel(lang, st)
	if l, ok := gsmDashboardLine(r.Context(), lang); ok { // gsm.go
		d.Trunk.Lines = append(d.Trunk.Lines, l)
	}
	d.Logs = s.recentLogs(r, r.URL.Query().Get("logs"), 12)
	p := s.authedPage(se, "Dashboard", "dashboard", d)
	p.Refresh = 10
	s.render(w, r, http.StatusOK, "dashboard", p)
}

// uplinkWhy says in one sentence, in lang, why the active uplink carries
// traffic.
func uplinkWhy(lang, active string, ups []uplinkView) string {
	if active == "" {
		if len(ups) == 0 {
			return tr(lang, "No uplink is configured.")
		}
		var bad []string
		for _, u := range ups {
			bad = append(bad, trf(lang, "%s is %s", u.Name, tr(lang, u.State)))
		}
		return trf(lang, "No uplink works: %s.", strings.Join(bad, ", "))
	}
	var skipped []string
	for _, u := range ups {
		if u.Name == active {
			break
		}
		why := tr(lang, u.State)
		if u.Error != "" {
			why += " (" + u.Error + ")"
		}
		skipped = append(skipped, trf(lang, "%s is %s", u.Name, why))
	}
	if len(skipped) == 0 {
		return trf(lang, "Using %s: it is the preferred uplink and it is healthy.", active)
	}
	return trf(lang, "Using %s because %s.", active, strings.Join(skipped, ", "))
}

func modemPanel(m *netapi.ModemStatus) *modemView {
	reg, sim, id := modemParts(m)
	mv := &modemView{
		State:        m.State,
		Operator:     reg.Operator,
		Tech:         strings.ToUpper(string(reg.Tech)),
		Registration: string(reg.State),
		SIM:          string(sim.State),
		Model:        strings.TrimSpace(id.Manufacturer + " " + id.Model),
		Error:        m.Error,
	}
	if v, ok := signalOf(m.Signal); ok {
		mv.SignalDBm = fmt.Sprintf("%.0f dBm", v)
		mv.SignalQuality = signalWords(v)
	}
	var pts []point
	for _, h := range m.SignalHistory {
		if v, ok := signalOf(&h.Signal); ok {
			pts = append(pts, point{h.Time, v})
		}
	}
	if len(pts) > 1 {
		mv.Chart = newChart(pts)
	}
	return mv
}

// modemParts are the modem's registration, SIM and identity, zero when
// not reported.
func modemParts(m *netapi.ModemStatus) (reg modemapi.Registration, sim modemapi.SIMStatus, id modemapi.Identity) {
	if m.Registration != nil {
		reg = *m.Registration
	}
	if m.SIM != nil {
		sim = *m.SIM
	}
	if m.Identity != nil {
		id = *m.Identity
	}
	return reg, sim, id
}

// modemIMSI is the SIM's IMSI, "" when netctl or the modem does not say.
func modemIMSI(n *netapi.Status) string {
	if n == nil || n.Modem == nil || n.Modem.Identity == nil {
		return ""
	}
	return n.Modem.Identity.IMSI
}

// signalOf picks the received power: RSSI, else RSRP (LTE), else RSCP (UMTS).
func signalOf(s *modemapi.Signal) (float64, bool) {
	if s == nil {
		return 0, false
	}
	for _, p := range []*int{s.RSSI, s.RSRP, s.RSCP} {
		if p != nil {
			return float64(*p), true
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

// vpnPanel is the VPN card in lang. State stays English (the pill's
// colour and the wizard's check read it); the page translates it.
func vpnPanel(lang string, st Status) panel {
	p := panel{Title: tr(lang, "VPN")}
	v := st.VPN
	if v == nil {
		p.Unavailable = tr(lang, "VPN service not available.")
		return p
	}
	p.State = strings.ToLower(strings.ReplaceAll(v.State, "_", " "))
	add := func(k, val string) {
		if val != "" {
			p.Lines = append(p.Lines, [2]string{tr(lang, k), val})
		}
	}
	if v.Profile != nil {
		add("Profile", v.Profile.Name)
	}
	add("Server", v.Remote)
	add("Tunnel address", v.TunnelAddress)
	if v.ConnectedSince != nil {
		add("Connected", trf(lang, "%s ago", humanDuration(time.Since(*v.ConnectedSince))))
	}
	add("Via uplink", v.Uplink)
	add("Detail", trMessage(lang, v.Detail))
	if v.LastError != "" {
		add("Last problem", trMessage(lang, v.LastError))
	}
	if d := v.DNS; d != nil {
		add("DNS through the VPN", vpnDNSWords(lang, d))
	}
	if v.Profile != nil {
		add("Profile notes", strings.Join(trMessages(lang, v.Profile.Notes), "; "))
	}
	if v.BytesIn+v.BytesOut > 0 {
		add("Traffic", "↓ "+humanBytes(float64(v.BytesIn))+" · ↑ "+humanBytes(float64(v.BytesOut)))
	}
	return p
}

// gatewayPanel reads the gateway's status, in lang.
func gatewayPanel(lang string, st Status) (panel, string) {
	g := st.Gateway
	if g == nil {
		return panel{Title: tr(lang, "SIP trunk"), Unavailable: tr(lang, "Gateway service not available.")}, "—"
	}
	p := panel{Title: tr(lang, "SIP trunk")}
	reg := g.Registration
	p.State, _, _ = strings.Cut(reg, ":")
	if !g.Enabled {
		p.State = "disabled"
	}
	if _, detail, ok := strings.Cut(reg, ": "); ok {
		p.Lines = append(p.Lines, [2]string{tr(lang, "Problem"), detail})
	}
	if g.PBX != "" {
		p.Lines = append(p.Lines, [2]string{tr(lang, "PBX"), g.PBX})
	}
	if !g.RegisteredUntil.IsZero() {
		// What the PBX granted (the box renews at 80% of it): a short
		// lifetime or one that is not moving on shows here, not only in
		// edgectl or the API.
		p.Lines = append(p.Lines, [2]string{tr(lang, "Registered until"), g.RegisteredUntil.Local().Format("2006-01-02 15:04:05")})
	}
	mode := tr(lang, "full ICE")
	if g.ICELite {
		mode = "ICE-lite"
	}
	p.Lines = append(p.Lines, [2]string{tr(lang, "WebRTC port"), fmt.Sprintf("UDP %d (%s)", g.ICEPort, mode)})
	if g.Draining {
		p.Lines = append(p.Lines, [2]string{tr(lang, "New calls"), tr(lang, "refused: the box is draining before a restart (edgectl undrain takes calls again)")})
	}
	return p, fmt.Sprint(g.ActiveCalls)
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
