package web

import (
	"fmt"
	"net/http"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/apndb"
)

// The signal page is for aligning the antenna and reading the SIM: the
// modem's LTE figures with bars, refreshed every second while it is open.

type meter struct {
	Name, Value, Hint string
	Bars              int // 0..4; -1: not reported
}

type simView struct {
	ICCID, IMSI, Number, PINTries, PUKTries string
	// Slot is the mini-PCIe slot holding the modem ("mPCIe 1", "unknown"),
	// SlotNote how it is known, SlotWhy why it is not (netctl's words).
	Slot, SlotNote, SlotWhy string
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

func signalPage(lang string, st Status) signalView {
	v := signalView{}
	if st.Network == nil {
		v.Error = trf(lang, "The network service is not available: %s", orDash(st.Unavailable["netctl"]))
		return v
	}
	m := st.Network.Modem
	if m == nil {
		v.Error = "No modem found yet."
		return v
	}
	reg, sim, id := modemParts(m)
	v.Tech = orDash(string(reg.Tech))
	v.Operator = orDash(reg.Operator)
	v.CellID = orDash(reg.CellID)
	v.LAC = orDash(reg.LAC)
	var sig modemapi.Signal
	if m.Signal != nil {
		sig = *m.Signal
	}
	// Empty: an older netctl, or a card without a band command (Ericsson).
	v.Band = firstNonEmpty(sig.Band, "not reported by the modem service")
	add := func(name string, f *float64, unit string, th [4]float64, hint string) {
		mt := meter{Name: name, Bars: -1, Value: "not reported", Hint: hint}
		if f != nil {
			mt.Value = fmt.Sprintf("%g %s", *f, unit)
			mt.Bars = bars(*f, th)
		}
		v.Meters = append(v.Meters, mt)
	}
	add("RSRP", intf(sig.RSRP), "dBm", [4]float64{-80, -90, -100, -110}, "received power: above −90 is good, below −110 too weak")
	add("RSRQ", sig.RSRQ, "dB", [4]float64{-10, -15, -20, -25}, "quality: above −15 is good")
	add("SINR", sig.SINR, "dB", [4]float64{20, 13, 5, 0}, "signal over noise: above 13 is good, below 0 poor")
	add("RSSI", intf(sig.RSSI), "dBm", [4]float64{-65, -75, -85, -95}, "total power, all technologies")
	tries := func(n int) string {
		if m.SIM != nil && n >= 0 {
			return fmt.Sprint(n)
		}
		return "unknown"
	}
	// The number is read with the IMSI once the SIM is unlocked; with an
	// IMSI and no number, the SIM does not store it (most do not).
	number := "not known"
	if id.Number != "" {
		number = id.Number
	} else if id.IMSI != "" {
		number = "not stored on the SIM"
	}
	v.SIM = simView{
		ICCID:    orDash(firstNonEmpty(sim.ICCID, id.ICCID)),
		IMSI:     orDash(id.IMSI),
		Number:   number,
		PINTries: tries(sim.PINAttempts),
		PUKTries: tries(sim.PUKAttempts),
	}
	v.SIM.Slot, v.SIM.SlotNote, v.SIM.SlotWhy = slotWords(m.Slot)
	v.APN = m.APN
	if e, ok := apndb.Lookup(id.IMSI); ok {
		v.Suggest = &e
	}
	return v
}

// slotWords are the slot, how it is known and why it is not, for the
// page (the first two are catalog keys).
func slotWords(s *netapi.ModemSlot) (slot, note, why string) {
	if s == nil {
		return "not reported by the modem service", "", ""
	}
	if s.Name == "unknown" || s.Name == "" {
		return "unknown", "", s.Reason
	}
	switch s.Source {
	case netapi.SlotFromConfig:
		note = "set in the config (network.modem.slot)"
	case netapi.SlotFromGuessedUSB:
		note = "guessed from its USB port: the board's slot map is not confirmed; set network.modem.slot if it is wrong"
	}
	slot = s.Name
	if s.SIM != "" {
		slot += " · SIM " + s.SIM
	}
	return slot, note, ""
}

// intf is an optional integer figure as a float.
func intf(p *int) *float64 {
	if p == nil {
		return nil
	}
	f := float64(*p)
	return &f
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
	p := s.authedPage(se, "Signal and SIM", "signal", signalPage(langOf(r), s.status(r.Context())))
	p.Refresh = 1
	s.render(w, r, http.StatusOK, "signal", p)
}
