package modem

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestCopiedAnswerAFewMillisecondsLate: a card takes 10 ms to answer and
// sends every answer twice, the copy 5 ms behind the first (as a card
// replaying its output). The caller sends its next command at once; the
// copy must not answer it.
// Before the answer guard the copy was read as the next command's answer
// whenever it came after the next command was written.
func TestCopiedAnswerAFewMillisecondsLate(t *testing.T) {
	answers := map[string]string{"AT+CGMI": "Quectel", "AT+CGSN": "867223020123456", "AT+CIMI": "262011234567890"}
	var sm *scriptModem
	e, sm := newScriptEngine(t, func(cmd string) string {
		time.Sleep(10 * time.Millisecond)
		out := "\r\n" + answers[cmd] + "\r\n\r\nOK\r\n"
		if answers[cmd] == "" {
			out = "\r\nOK\r\n"
		}
		go func() {
			time.Sleep(5 * time.Millisecond)
			sm.mu.Lock()
			c := sm.conn
			sm.mu.Unlock()
			io.WriteString(c, out)
		}()
		return out
	})
	ctx := context.Background()
	for i, cmd := range []string{"AT+CGMI", "AT+CGSN", "AT+CIMI", "AT+CGSN", "AT+CGMI", "AT+CIMI"} {
		r, err := e.Command(ctx, cmd, 0)
		if err != nil {
			t.Fatalf("%d %s: %v", i, cmd, err)
		}
		if got := strings.Join(r.Lines, "|"); got != answers[cmd] {
			t.Errorf("%d %s answered %q, want %q (a copy of an earlier answer)", i, cmd, got, answers[cmd])
		}
	}
}

// TestURCsDoNotHoldTheGuard: URCs every 2 ms after each answer must not
// postpone the next command past the guard (a quiet gap that every line
// restarted held commands back for as long as the storm lasted).
func TestURCsDoNotHoldTheGuard(t *testing.T) {
	var sm *scriptModem
	stop := make(chan struct{})
	defer close(stop)
	e, sm := newScriptEngine(t, func(cmd string) string { return "\r\nOK\r\n" })
	ctx := context.Background()
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			sm.mu.Lock()
			c := sm.conn
			sm.mu.Unlock()
			io.WriteString(c, "\r\n^RSSI: 18\r\n")
		}
	}()
	// 20 commands in a storm: each waits the guard once, never the
	// storm's length; the bound is generous (a loaded box), the point
	// is that the storm never ends by itself.
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 20; i++ {
			if _, err := e.Command(ctx, "AT", 0); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("commands held back by URCs")
	}
}
