package modem_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
)

// Cards as the outside emulator's fifth round brings them.

// TestSMSArrivesDuringNetworkScan: an SMS arrives (+CMTI) while the card
// scans the networks (AT+COPS=?, seconds, the port busy): the scan's
// answer holds the operators and no +CMTI, and the message is read and
// stored once the port is free, not lost to the busy port.
func TestSMSArrivesDuringNetworkScan(t *testing.T) {
	r := newRig(t, "huawei-me909s", nil)
	ctx := ctxT(t)
	r.sim.ScanTime(3 * time.Second)
	done := make(chan []string, 1)
	go func() {
		res, err := r.m.Engine().Command(ctx, "AT+COPS=?", 0)
		if err != nil {
			t.Errorf("scan: %v", err)
		}
		done <- res.Lines
	}()
	time.Sleep(500 * time.Millisecond)
	if _, err := r.sim.DeliverSMS("+4915112345678", "mid-scan hello"); err != nil {
		t.Fatal(err)
	}
	lines := <-done
	if got := strings.Join(lines, "|"); !strings.Contains(got, "+COPS: (2,") || strings.Contains(got, "CMTI") {
		t.Errorf("scan answer %q", got)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		l, err := r.m.ListSMS()
		if err == nil && len(l) == 1 && l[0].Text == "mid-scan hello" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SMS that came mid-scan: %+v %v", l, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestEnterPUKLastAttempt: a SIM with one PUK attempt left takes a wrong
// PUK as its last: EnterPUK says the SIM is blocked for good (not "enter
// the PUK"), and from then on the SIM reads as PUK-blocked with no
// attempts left, and EnterPUK sends nothing more.
func TestEnterPUKLastAttempt(t *testing.T) {
	r := newRig(t, "generic", nil)
	ctx := ctxT(t)
	r.sim.BlockSIM(1)
	st, err := r.m.SIM(ctx)
	if err != nil || st.State != modem.SIMPUK || st.PUKAttempts != 1 {
		t.Fatalf("blocked SIM: %+v %v", st, err)
	}
	if err := r.m.EnterPUK(ctx, "87654321", "4321"); !errors.Is(err, modem.ErrSIMBlockedForGood) {
		t.Fatalf("wrong PUK on the last attempt: %v, want blocked for good", err)
	}
	st, err = r.m.SIM(ctx)
	if err != nil || st.State != modem.SIMPUK || st.PUKAttempts != 0 {
		t.Errorf("after the last PUK: %+v %v, want PUK-blocked with 0 left", st, err)
	}
	sent := r.sim.CountCommand("AT+CPIN=")
	if err := r.m.EnterPUK(ctx, "12345678", "4321"); !errors.Is(err, modem.ErrSIMBlockedForGood) {
		t.Errorf("a PUK for a SIM blocked for good: %v", err)
	}
	if n := r.sim.CountCommand("AT+CPIN="); n != sent {
		t.Errorf("%d PUKs sent to a SIM blocked for good", n-sent)
	}
}
