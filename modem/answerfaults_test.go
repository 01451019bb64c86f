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
