package netctl

import (
	"testing"
	"time"

	"edgebox/modem"
)

// TestSIMURCKeepsICCID: a +CPIN: READY URC (the card's own, after a
// reconnect or a boot) says the state alone; the status keeps the ICCID
// and attempts last read. Before, it blanked them.
func TestSIMURCKeepsICCID(t *testing.T) {
	m := &modemManager{}
	m.st.SIM = &modem.SIMStatus{State: modem.SIMReady, ICCID: "89490200001234567890", PINAttempts: 3, PUKAttempts: 10}
	m.event(modem.Event{Kind: modem.EventSIM, SIM: &modem.SIMStatus{State: modem.SIMReady, PINAttempts: -1, PUKAttempts: -1}, Time: time.Now()})
	if st := m.st.SIM; st == nil || st.ICCID != "89490200001234567890" || st.PINAttempts != 3 || st.PUKAttempts != 10 {
		t.Errorf("after +CPIN: READY: %+v", st)
	}
	m.event(modem.Event{Kind: modem.EventSIM, SIM: &modem.SIMStatus{State: modem.SIMAbsent, PINAttempts: -1, PUKAttempts: -1}, Time: time.Now()})
	if st := m.st.SIM; st == nil || st.ICCID != "" {
		t.Errorf("after the SIM was taken out: %+v, want no ICCID", st)
	}
}
