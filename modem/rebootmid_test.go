package modem_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// The card reboots in the middle of an exchange (a firmware crash, a
// brown-out on the USB power): after the SMS prompt and the PDU, or after
// taking the PIN. The box must get an error, not hang, be in step with the
// card once it is back, and do the thing again on request.

// TestRebootDuringSMSSend: AT+CMGS's prompt, the PDU, then silence and
// the card's boot. SendSMS fails (the message may not have gone), the
// engine is in step after the boot, and the next send goes out once.
func TestRebootDuringSMSSend(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, func(c *modemsim.Config) { c.BootTime = 1500 * time.Millisecond })
			ctx := ctxT(t)
			r.sim.RebootAt("AT+CMGS")
			start := time.Now()
			_, err := r.m.SendSMS(ctx, "+491701234567", "first")
			if err == nil {
				t.Fatal("SMS 'sent' through a card that rebooted with the PDU in hand")
			}
			t.Logf("send during the reboot: %v after %v", err, time.Since(start).Round(time.Millisecond))
			if !errors.Is(err, modem.ErrRebooted) && !errors.Is(err, modem.ErrTimeout) {
				t.Errorf("error %v: want the reboot or a timeout named", err)
			}
			sendAgain(t, r, ctx)
		})
	}
}

// sendAgain waits for the card to answer again and checks that one SMS
// now goes out.
func sendAgain(t *testing.T, r *rig, ctx context.Context) {
	t.Helper()
	time.Sleep(2 * time.Second) // the boot
	var err error
	for i := 0; i < 3; i++ { // a send during the re-init may be refused
		if _, err = r.m.SendSMS(ctx, "+491701234567", "second"); err == nil {
			break
		}
		t.Logf("send after the boot: %v", err)
		time.Sleep(time.Second)
	}
	if err != nil {
		t.Fatalf("SMS after the card came back: %v", err)
	}
	if sent := r.sim.State().Sent; len(sent) != 1 {
		t.Errorf("the card sent %d messages, want the second only: %+v", len(sent), sent)
	}
}

// TestRebootDuringPINEntry: the card takes AT+CPIN="1234" and reboots
// before answering. EnterPIN fails naming the restart; the PIN is not
// counted as rejected (the SIM took it), so once the card is back and asks
// for the PIN again (a reboot locks the SIM), the same PIN is entered and
// the SIM is ready.
func TestRebootDuringPINEntry(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25", "dell-dw5550"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, func(c *modemsim.Config) { c.PIN = "1234"; c.BootTime = 1500 * time.Millisecond })
			ctx := ctxT(t)
			r.sim.RebootAt("AT+CPIN=")
			err := r.m.EnterPIN(ctx, "1234")
			if err == nil {
				t.Fatal("PIN 'accepted' by a card that rebooted before answering")
			}
			t.Logf("PIN entry during the reboot: %v", err)
			if errors.Is(err, modem.ErrWrongPIN) || errors.Is(err, modem.ErrPINAlreadyRejected) {
				t.Fatalf("a reboot was taken for a wrong PIN: %v", err)
			}
			var sim modem.SIMStatus
			for i := 0; i < 20; i++ {
				time.Sleep(300 * time.Millisecond)
				if sim, err = r.m.SIM(ctx); err == nil && sim.State == modem.SIMPIN {
					break
				}
			}
			if sim.State != modem.SIMPIN {
				t.Fatalf("after the reboot: SIM %+v %v, want PIN required", sim, err)
			}
			if err := r.m.EnterPIN(ctx, "1234"); err != nil {
				t.Fatalf("PIN after the reboot: %v", err)
			}
			if sim, err := r.m.SIM(ctx); err != nil || sim.State != modem.SIMReady {
				t.Errorf("SIM after the PIN: %+v %v", sim, err)
			}
		})
	}
}
