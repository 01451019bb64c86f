package gateway

import (
	"testing"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// Which configured SIM holds which of netctl's modems: by slot name or
// number; the first SIM takes a modem no SIM names (a data modem of
// unknown slot, a netctl from before the SIM list); an event without a
// slot is the default modem's.
func TestSIMsToModems(t *testing.T) {
	sims := func(slots ...string) config.GatewayGSM {
		g := config.GatewayGSM{}
		for _, s := range slots {
			g.SIMs = append(g.SIMs, config.GSMSIM{Slot: s})
		}
		return g
	}
	st := func(def string, slots ...string) netapi.GSMStatus {
		s := netapi.GSMStatus{GSMSIMStatus: netapi.GSMSIMStatus{Slot: def}}
		for _, sl := range slots {
			s.SIMs = append(s.SIMs, netapi.GSMSIMStatus{Slot: sl})
		}
		return s
	}
	for _, c := range []struct {
		name string
		g    config.GatewayGSM
		st   netapi.GSMStatus
		// modem slot of each SIM ("-": none); SIM of each event slot
		modems []string
		events map[string]int
	}{
		{"two slots by number", sims("1", "2"), st("mpcie1", "mpcie1", "mpcie2"), []string{"mpcie1", "mpcie2"},
			map[string]int{"mpcie1": 0, "mpcie2": 1, "": 0, "mpcie3": -1}},
		{"by name, config order differs", sims("mpcie2", "mpcie1"), st("mpcie1", "mpcie1", "mpcie2"), []string{"mpcie2", "mpcie1"},
			map[string]int{"mpcie1": 1, "mpcie2": 0, "": 1}},
		{"data modem's slot unknown", sims("1", "2"), st("", "", "mpcie2"), []string{"", "mpcie2"},
			map[string]int{"": 0, "mpcie2": 1}},
		{"netctl before slots", sims("1"), st("mPCIe 1"), []string{"mPCIe 1"}, map[string]int{"": 0}},
		{"old netctl, the modem is the second SIM's", sims("2", "1"), st("1"), []string{"-", "1"}, map[string]int{"": 1}},
		{"second SIM without a modem", sims("1", "2"), st("mpcie1", "mpcie1"), []string{"mpcie1", "-"}, map[string]int{"mpcie1": 0}},
	} {
		for i, want := range c.modems {
			m, ok := simModem(c.g, c.st, i)
			if got := map[bool]string{true: m.Slot, false: "-"}[ok]; got != want {
				t.Errorf("%s: SIM %d has modem %q, want %q", c.name, i, got, want)
			}
		}
		for slot, want := range c.events {
			if got := simOfSlot(c.g, c.st, slot); got != want {
				t.Errorf("%s: an event of slot %q is SIM %d's, want %d", c.name, slot, got, want)
			}
		}
	}
}
