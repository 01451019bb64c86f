package modem_test

import (
	"strings"
	"testing"
	"time"
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
