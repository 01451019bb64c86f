package web

import (
	"fmt"
	"net/http"

	"edgebox/internal/apndb"
)

// The signal page is for aligning the antenna and reading the SIM: the
// modem's LTE figures with bars, refreshed every second while it is open.

type meter struct {
	Name, Value, Hint string
	Bars              int // 0..4; -1: not reported
}

type simView struct {
	ICCID, IMSI, Number, PINTries, PUKTries, Slot string
}

type signalView struct {
	Error    string
	Tech     string
	Operator string
	CellID   string
	LAC      string
	Band     string
	Meters   []meter
	SIM      simView
	APN      string
	Suggest  *apndb.Entry
}

// bars rates v against thresholds for 4, 3, 2 and 1 bars (higher is better).
func bars(v float64, t [4]float64) int {
	for i, th := range t {
		if v >= th {
			return 4 - i
		}
	}
	return 0
}

func signalPage(st Status) signalView {
	v := signalView{}
	if st.Network == nil {
		v.Error = "The network service is not available: " + orDash(st.Unavailable["netctl"])
		return v
	}
	m, ok := get(st.Network, "modem").(map[string]any)
	if !ok {
		v.Error = "No modem found yet."
		return v
	}
	v.Tech = orDash(gets(m, "registration.tech"))
	v.Operator = orDash(gets(m, "registration.operator"))
	v.CellID = orDash(gets(m, "registration.cell_id"))
	v.LAC = orDash(gets(m, "registration.lac"))
	v.Band = "not reported by the modem service"
	add := func(name, path, unit string, th [4]float64, hint string) {
		mt := meter{Name: name, Bars: -1, Value: "not reported", Hint: hint}
		if f, ok := getf(m, path); ok {
			mt.Value = fmt.Sprintf("%g %s", f, unit)
			mt.Bars = bars(f, th)
		}
		v.Meters = append(v.Meters, mt)
	}
	add("RSRP", "signal.rsrp_dbm", "dBm", [4]float64{-80, -90, -100, -110}, "received power: above −90 is good, below −110 too weak")
	add("RSRQ", "signal.rsrq_db", "dB", [4]float64{-10, -15, -20, -25}, "quality: above −15 is good")
	add("SINR", "signal.sinr_db", "dB", [4]float64{20, 13, 5, 0}, "signal over noise: above 13 is good, below 0 poor")
	add("RSSI", "signal.rssi_dbm", "dBm", [4]float64{-65, -75, -85, -95}, "total power, all technologies")
	tries := func(p string) string {
		if f, ok := getf(m, p); ok && f >= 0 {
			return fmt.Sprintf("%g", f)
		}
		return "unknown"
	}
	v.SIM = simView{
		ICCID: orDash(firstNonEmpty(gets(m, "sim.iccid"), gets(m, "identity.iccid"))),
		IMSI:  orDash(gets(m, "identity.imsi")),
		// netctl's modem status carries neither the SIM's own number nor
		// its slot (yet).
		Number:   "not known",
		PINTries: tries("sim.pin_attempts"),
		PUKTries: tries("sim.puk_attempts"),
		Slot:     "not reported",
	}
	v.APN = gets(m, "apn")
	if e, ok := apndb.Lookup(gets(m, "identity.imsi")); ok {
		v.Suggest = &e
	}
	return v
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (s *Server) pageSignal(w http.ResponseWriter, r *http.Request, se *session) {
	p := s.authedPage(se, "Signal and SIM", "signal", signalPage(s.status(r.Context())))
	p.Refresh = 1
	s.render(w, r, http.StatusOK, "signal", p)
}
