package modem_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// Answers that arrive while another command is in flight: a card still
// busy with a command the box gave up on (its timeout passed, or its
// caller's context ended) answers it later, when the box already sent the
// next. A bare engine over modemsim, so no background poll of the Modem
// layer takes the late answer in the test's place.

// bareEngine runs an engine (600 ms timeout, no recovery in the way) on a
// fresh simulated card of profile p, echo off.
func bareEngine(t *testing.T, p string) (*modem.Engine, *modemsim.Sim) {
	t.Helper()
	sim, path := startSim(t, modemsim.Config{Profile: p, BootTime: 100 * time.Millisecond})
	e := modem.NewEngine(modem.EngineConfig{
		Open:    func() (io.ReadWriteCloser, error) { return modem.OpenSerial(path, 0) },
		Timeout: 600 * time.Millisecond, MaxTimeouts: 10, ProbeTimeout: time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := e.Sync(ctxT(t)); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if _, err := e.Command(ctxT(t), "ATE0", 0); err != nil {
		t.Fatalf("ATE0: %v", err)
	}
	return e, sim
}

// answerOf runs cmd and returns its info lines joined with "|".
func answerOf(t *testing.T, eng *modem.Engine, cmd string, timeout time.Duration) string {
	t.Helper()
	res, err := eng.Command(ctxT(t), cmd, timeout)
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return strings.Join(res.Lines, "|")
}

// sentTo says whether the card received cmd.
func sentTo(sim *modemsim.Sim, cmd string) bool {
	for _, c := range sim.Commands() {
		if strings.EqualFold(c, cmd) {
			return true
		}
	}
	return false
}

// TestLateAnswerWhileNextInFlight: the answer to AT+CGMI comes long after
// its timeout (the card answers in order, so what is sent meanwhile waits
// behind it). The commands after it must each get their own answer or an
// error, never the late one.
func TestLateAnswerWhileNextInFlight(t *testing.T) {
	for _, late := range []time.Duration{1500 * time.Millisecond, 2500 * time.Millisecond} {
		t.Run(late.String(), func(t *testing.T) {
			eng, sim := bareEngine(t, "quectel-ec25")
			sim.LateAnswers("AT+CGMI", 1, late)
			if _, err := eng.Command(ctxT(t), "AT+CGMI", 0); !errors.Is(err, modem.ErrTimeout) {
				t.Fatalf("late AT+CGMI: err %v, want a timeout", err)
			}
			// B and C wait long enough for the late answer to land
			// inside them; while the card is busy they may fail, but
			// never with another command's answer.
			start := time.Now()
			for _, c := range []struct{ cmd, want string }{{"AT+CGSN", "867223020123456"}, {"AT+CIMI", "262011234567890"}} {
				res, err := eng.Command(ctxT(t), c.cmd, 5*time.Second)
				if err != nil {
					t.Logf("%s while the card was busy: %v", c.cmd, err)
					continue
				}
				if got := strings.Join(res.Lines, "|"); got != c.want {
					t.Errorf("%s answered %q: the late AT+CGMI answer was taken for it", c.cmd, got)
				}
			}
			// Once the card has answered, every command gets its own.
			time.Sleep(time.Until(start.Add(late)))
			if got := answerOf(t, eng, "AT+CIMI", 0); got != "262011234567890" {
				t.Errorf("AT+CIMI answered %q: answers are out of step", got)
			}
			if got := answerOf(t, eng, "AT+CGSN", 0); got != "867223020123456" {
				t.Errorf("AT+CGSN answered %q: answers are out of step", got)
			}
		})
	}
}

// TestCancelledCommandsAnswerNotTakenForTheNext: the caller of AT+CGMI
// gave up (its context ended: the AT passthrough's HTTP client went away,
// the modem session stopped) before the card answered. That answer comes
// later and must not answer the next command; on every profile.
func TestCancelledCommandsAnswerNotTakenForTheNext(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "dell-dw5550", "quectel-ec25", "generic"} {
		t.Run(p, func(t *testing.T) {
			eng, sim := bareEngine(t, p)
			sim.LateAnswers("AT+CGMI", 1, 400*time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			_, err := eng.Command(ctx, "AT+CGMI", 5*time.Second)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("AT+CGMI with its caller gone: err %v, want the context's", err)
			}
			if !sentTo(sim, "AT+CGMI") {
				t.Fatal("AT+CGMI never reached the card: the case did not run")
			}
			if got := answerOf(t, eng, "AT+CGSN", 0); got != "867223020123456" {
				t.Errorf("AT+CGSN answered %q: the abandoned AT+CGMI's answer was taken for it", got)
			}
			if got := answerOf(t, eng, "AT+CIMI", 0); got != "262011234567890" {
				t.Errorf("AT+CIMI answered %q: answers are out of step", got)
			}
		})
	}
}

// TestAbandonedSMSPromptCancelled: the caller of AT+CMGS gives up before
// the card's "> " prompt comes (the card was slow, the HTTP client went).
// The card then waits for a PDU: whatever the box sends next would be
// typed into the message. The engine cancels the input with ESC, so the
// next commands get their answers and no message goes out.
func TestAbandonedSMSPromptCancelled(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25"} {
		t.Run(p, func(t *testing.T) {
			eng, sim := bareEngine(t, p)
			sim.LateAnswers("AT+CMGS", 1, 500*time.Millisecond) // the prompt
			if _, err := eng.Command(ctxT(t), "AT+CMGF=0", 0); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := eng.CommandPDU(ctx, "AT+CMGS=18", "0011000C919471101032540000AA04D4F29C0E", 5*time.Second)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("AT+CMGS with its caller gone: %v", err)
			}
			time.Sleep(700 * time.Millisecond) // the prompt is out
			if got := answerOf(t, eng, "AT+CGSN", 0); got != "867223020123456" {
				t.Errorf("AT+CGSN after the abandoned SMS answered %q", got)
			}
			if got := answerOf(t, eng, "AT+CIMI", 0); got != "262011234567890" {
				t.Errorf("AT+CIMI answered %q", got)
			}
			if sent := sim.State().Sent; len(sent) != 0 {
				t.Errorf("the abandoned SMS went out: %+v", sent)
			}
		})
	}
}
