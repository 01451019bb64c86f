package modem_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// Answers that do not come as asked: late (after the engine stopped
// waiting), twice, or ending with an error code the box has no word for.
// Each later command must still get its own answer.

// shortTimeouts makes a command time out quickly and keeps recovery (which
// would reopen the port and hide the fault) out of the way.
func shortTimeouts(o *modem.Options) {
	o.CommandTimeout = 600 * time.Millisecond
	o.MaxTimeouts = 5
}

// TestLateAnswerNotTakenForTheNext: the modem answers AT+CGMI after the
// engine gave up on it. That late answer must not be read as the answer to
// the next command (IMEI, IMSI); on every profile.
func TestLateAnswerNotTakenForTheNext(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "dell-dw5550", "quectel-ec25", "generic"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, nil, shortTimeouts)
			ctx := ctxT(t)
			eng := r.m.Engine()
			r.sim.LateAnswers("AT+CGMI", 1, 1200*time.Millisecond)
			if _, err := eng.Command(ctx, "AT+CGMI", 0); !errors.Is(err, modem.ErrTimeout) {
				t.Fatalf("late AT+CGMI: err %v, want a timeout", err)
			}
			imei, err := eng.Command(ctx, "AT+CGSN", 0)
			if err != nil {
				t.Fatalf("AT+CGSN after a late answer: %v", err)
			}
			t.Logf("AT+CGSN: %q", imei.Lines)
			if got := strings.Join(imei.Lines, "|"); !strings.Contains(got, "867223020123456") {
				t.Errorf("AT+CGSN answered %q: the late AT+CGMI answer was taken for it", got)
			}
			imsi, err := eng.Command(ctx, "AT+CIMI", 0)
			if err != nil {
				t.Fatalf("AT+CIMI: %v", err)
			}
			if got := strings.Join(imsi.Lines, "|"); !strings.Contains(got, "262011234567890") {
				t.Errorf("AT+CIMI answered %q: answers are out of step", got)
			}
			// And the modem layer reads a correct identity afterwards.
			id, err := r.m.Identity(ctx)
			if err != nil || id.IMEI != "867223020123456" {
				t.Errorf("identity after the late answer: %+v %v", id, err)
			}
		})
	}
}

// TestDoubledAnswersStayInStep: a modem that sends each answer twice (a
// firmware repeating its output) must not shift later answers by one.
func TestDoubledAnswersStayInStep(t *testing.T) {
	r := newRig(t, "quectel-ec25", nil, shortTimeouts)
	ctx := ctxT(t)
	eng := r.m.Engine()
	r.sim.AnswerTwice(3)
	for i, c := range []struct{ cmd, want string }{
		{"AT+CGMI", "Quectel"}, {"AT+CGSN", "867223020123456"}, {"AT+CIMI", "262011234567890"},
		{"AT+CGSN", "867223020123456"}, {"AT+CIMI", "262011234567890"},
	} {
		res, err := eng.Command(ctx, c.cmd, 0)
		if err != nil {
			t.Fatalf("%d %s: %v", i, c.cmd, err)
		}
		if got := strings.Join(res.Lines, "|"); got != c.want {
			t.Errorf("%d %s answered %q, want %q", i, c.cmd, got, c.want)
		}
	}
}

// TestUnknownCMECodeIsAnError: a +CME ERROR code outside 27.007's table
// (vendors use 500-999) fails the command with the code in its words; the
// next command is answered normally.
func TestUnknownCMECodeIsAnError(t *testing.T) {
	r := newRig(t, "huawei-me909s", func(c *modemsim.Config) {}, shortTimeouts)
	ctx := ctxT(t)
	eng := r.m.Engine()
	r.sim.FailNext("AT+CGSN", "+CME ERROR: 921")
	_, err := eng.Command(ctx, "AT+CGSN", 0)
	if err == nil || !strings.Contains(err.Error(), "921") {
		t.Fatalf("AT+CGSN with +CME ERROR: 921: err %v, want the code named", err)
	}
	if res, err := eng.Command(ctx, "AT+CGSN", 0); err != nil || strings.Join(res.Lines, "") != "867223020123456" {
		t.Fatalf("next AT+CGSN: %+v %v", res, err)
	}
}

// TestLastPINAttemptNeverRisked: a SIM that comes to the box with one PIN
// attempt left (two wrong tries in a phone) gets no PIN it never took; a
// PIN it took before is still entered, so a reboot on a 1-try SIM unlocks.
func TestLastPINAttemptNeverRisked(t *testing.T) {
	r := newRig(t, "huawei-me909s", func(c *modemsim.Config) { c.PIN = "4321" })
	ctx := ctxT(t)
	if err := r.sim.SetPINAttempts(1); err != nil {
		t.Fatal(err)
	}
	err := r.m.EnterPIN(ctx, "1234")
	if !errors.Is(err, modem.ErrLastPINAttempt) {
		t.Fatalf("EnterPIN on the last attempt: %v, want ErrLastPINAttempt", err)
	}
	for _, c := range r.sim.Commands() {
		if strings.HasPrefix(c, "AT+CPIN=") {
			t.Fatalf("a PIN was sent on the SIM's last attempt: %q", c)
		}
	}
	st, err := r.m.SIM(ctx)
	if err != nil || st.State != modem.SIMPIN || st.PINAttempts != 1 {
		t.Fatalf("SIM after the refusal: %+v %v", st, err)
	}
	// The right PIN, known from an earlier unlock of this SIM, is sent.
	if err := r.sim.SetPINAttempts(3); err != nil {
		t.Fatal(err)
	}
	if err := r.m.EnterPIN(ctx, "4321"); err != nil {
		t.Fatalf("right PIN: %v", err)
	}
	// The SIM is taken out and put back: locked again, one try left.
	r.sim.RemoveSIM()
	if st, err := r.m.SIM(ctx); err != nil || st.State != modem.SIMAbsent {
		t.Fatalf("SIM out: %+v %v", st, err)
	}
	r.sim.InsertSIM()
	if err := r.sim.SetPINAttempts(1); err != nil {
		t.Fatal(err)
	}
	if err := r.m.EnterPIN(ctx, "4321"); err != nil {
		t.Fatalf("a PIN this SIM took before, on its last attempt: %v", err)
	}
}
