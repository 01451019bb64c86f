package netctl

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"edgebox/api/netapi"
)

// gsmHubs picks the modem a request's slot names: none is the data
// modem, or the first voice modem on a box whose data modem is off; the
// data modem also by its slot; an unknown slot is refused naming the
// slots there are. Events of every hub share one sequence and carry
// their hub's slot.
func TestGSMHubsPickBySlot(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	noCtx := func() context.Context { return nil }
	none := func() (ModemDriver, error) { return nil, errors.New("no modem") }
	data := newGSMHub(none, noCtx, log)
	data.slot = func() string { return "mpcie1" }
	hs := singleHub(data)
	dataOn := true
	hs.hasData = func() bool { return dataOn }
	hs.voiceSlots = func() []string { return []string{"mpcie2"} }
	hs.newVoice = func(slot string) *gsmHub {
		h := newGSMHub(none, noCtx, log)
		h.slot = func() string { return slot }
		return h
	}
	voice := hs.voiceHubs()[0]
	for _, c := range []struct {
		slot string
		want *gsmHub
	}{{"", data}, {"mpcie1", data}, {"mpcie2", voice}} {
		if h, err := hs.pick(c.slot); err != nil || h != c.want {
			t.Errorf("slot %q: hub %p %v, want %p", c.slot, h, err, c.want)
		}
	}
	if _, err := hs.pick("mpcie3"); err == nil || err.Error() != `no modem in slot "mpcie3" (modems: mpcie1, mpcie2)` {
		t.Errorf("unknown slot: %v", err)
	}
	dataOn = false
	if h, _ := hs.pick(""); h != voice {
		t.Error("without a data modem, no slot is not the voice modem")
	}
	if _, err := hs.pick("mpcie1"); err == nil {
		t.Error("the disabled data modem's slot was taken")
	}

	data.emit(netapi.GSMEvent{Kind: netapi.GSMIncoming, Call: 1})
	voice.emit(netapi.GSMEvent{Kind: netapi.GSMIncoming, Call: 1})
	evs, _ := hs.ring.eventsAfter(0)
	if len(evs) != 2 || evs[0].Slot != "mpcie1" || evs[1].Slot != "mpcie2" || evs[1].Seq != 2 {
		t.Fatalf("events %+v", evs)
	}

	// over HTTP: an unknown slot is 404, a known one without a modem 409
	m := http.NewServeMux()
	hs.mount(m)
	for slot, code := range map[string]int{"mpcie3": 404, "mpcie2": 409} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/gsm/hangup", strings.NewReader(`{"slot":"`+slot+`","call":0}`)))
		if rec.Code != code {
			t.Errorf("hangup on %s: %d %s, want %d", slot, rec.Code, rec.Body, code)
		}
	}
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/gsm/status", nil))
	var st netapi.GSMStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 || len(st.SIMs) != 1 || st.SIMs[0].Slot != "mpcie2" || st.SIMs[0].Data || st.Slot != "mpcie2" || st.Seq != 2 {
		t.Errorf("status without a data modem: %d %s", rec.Code, rec.Body)
	}
}
