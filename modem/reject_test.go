package modem_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
)

// TestRejectCauseFromCEREG3: the network denies the card (+CEREG: 3) with
// EMM cause 15; RejectCause reads it with AT+CEREG=3 and leaves the
// registration reports at n=2, and the words say what to do. A denial
// without a cause gives ErrNoRejectCause.
func TestRejectCauseFromCEREG3(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25", "generic"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			if err := r.sim.Detach(3); err != nil {
				t.Fatal(err)
			}
			if _, err := r.m.RejectCause(ctx); !errors.Is(err, modem.ErrNoRejectCause) {
				t.Errorf("denied without a cause: %v, want ErrNoRejectCause", err)
			}
			r.sim.RejectCause(15)
			cause, err := r.m.RejectCause(ctx)
			if err != nil || cause != 15 {
				t.Fatalf("reject cause: %d %v, want 15", cause, err)
			}
			if w := modem.RejectCauseWords(cause); !strings.Contains(w, "no suitable cells") || !strings.Contains(w, "15") {
				t.Errorf("words for 15: %q", w)
			}
			res, err := r.m.Engine().Command(ctx, "AT+CEREG?", 0)
			if err != nil || !strings.HasPrefix(strings.Join(res.Lines, "|"), "+CEREG: 2,") {
				t.Errorf("registration reports after asking: %q %v, want n=2 again", res.Lines, err)
			}
			reg, err := r.m.Registration(ctx)
			if err != nil || reg.State != modem.RegDenied {
				t.Errorf("registration: %+v %v", reg, err)
			}
		})
	}
}

// TestRejectCauseWords: a cause with no words of its own still names its
// number and what to do.
func TestRejectCauseWords(t *testing.T) {
	if w := modem.RejectCauseWords(99); !strings.Contains(w, "99") || !strings.Contains(w, "operator") {
		t.Errorf("unknown cause: %q", w)
	}
	if w := modem.RejectCauseWords(13); !strings.Contains(w, "roaming") {
		t.Errorf("cause 13: %q", w)
	}
}

// TestRejectCauseCancelledRestoresReportMode: the session gives up while
// the card is slow to answer AT+CEREG? (n=3 already set): the report
// mode is set back to n=2 anyway, not left at 3 for the rest of the run
// (it was: both the read and the restore ran on the cancelled context).
func TestRejectCauseCancelledRestoresReportMode(t *testing.T) {
	r := newRig(t, "generic", nil)
	if err := r.sim.Detach(3); err != nil {
		t.Fatal(err)
	}
	r.sim.RejectCause(15)
	r.sim.LateAnswers("AT+CEREG?", 1, 1500*time.Millisecond)
	ctx, cancel := context.WithTimeout(ctxT(t), 400*time.Millisecond)
	defer cancel()
	if _, err := r.m.RejectCause(ctx); err == nil {
		t.Fatal("reject cause read though the session gave up")
	}
	var last string
	for range 3 { // the late answer may still be in flight: resync and read
		res, err := r.m.Engine().Command(ctxT(t), "AT+CEREG?", 0)
		if err == nil {
			last = strings.Join(res.Lines, "|")
			break
		}
	}
	if !strings.HasPrefix(last, "+CEREG: 2,") {
		t.Errorf("registration reports after a cancelled RejectCause: %q, want n=2", last)
	}
}
