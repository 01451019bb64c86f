package modem_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// TestResumeEscapesCardLeftInDataMode: pppd dialled on the shared AT
// port and exited, but the card ignores DTR (a pty has none, like QEMU's
// serial line): it is still in data mode and passes every byte to the
// network. Resume finds the port silent, sends +++ with guard times and
// ATH, and the card answers AT again, with no recovery (no reset, no slot
// power-cycle). Before, init's commands went into the data stream and the
// engine went on to reset the card.
func TestResumeEscapesCardLeftInDataMode(t *testing.T) {
	r := newRig(t, "sierra-mc8775", func(c *modemsim.Config) { c.PPPPeer = []string{"sleep", "60"} })
	ctx := ctxT(t)
	if err := r.m.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	// pppd's side: chat dials, the call is up, then pppd exits.
	pp, err := modem.OpenSerial(r.path, 0)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(pp)
	if _, err := pp.Write([]byte("ATD*99***1#\r")); err != nil {
		t.Fatal(err)
	}
	readLinesUntil(t, br, 1, func(l string) bool { return strings.HasPrefix(l, "CONNECT") })
	pp.Close()
	time.Sleep(200 * time.Millisecond)

	if err := r.m.Resume(ctx); err != nil {
		t.Fatalf("resume with the card in data mode: %v", err)
	}
	if _, err := r.m.Engine().Command(ctx, "AT", 0); err != nil {
		t.Errorf("AT after resume: %v", err)
	}
	if n := r.sim.CountCommand("ATH"); n != 1 {
		t.Errorf("ATH sent %d times, want once after the +++", n)
	}
	if *r.slot != 0 || r.sim.CountCommand("AT+CFUN=1,1") != 0 {
		t.Errorf("recovery reset the card (slot resets %d)", *r.slot)
	}
}

// TestEscapeDataPortLeftInDataMode: an MC8775 with a data port of its own:
// pppd dialled there and exited, the card (no DTR on a pty) still in the
// call. EscapeDataPort escapes it and hangs up; the data port answers AT
// again, so the next dial's chat is not talking into the old call. On a
// port in command mode it only asks AT.
func TestEscapeDataPortLeftInDataMode(t *testing.T) {
	sim, err := modemsim.New(modemsim.Config{Profile: "sierra-mc8775", BootTime: 100 * time.Millisecond,
		PPPPeer: []string{"sleep", "60"}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	dataPath, wait, err := sim.ServePTY(sctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); wait(); sim.Close() })
	ctx := ctxT(t)
	if esc, err := modem.EscapeDataPort(ctx, dataPath); esc || err != nil {
		t.Fatalf("port in command mode: escaped %v, %v", esc, err)
	}
	dp, err := modem.OpenSerial(dataPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(dp)
	if _, err := dp.Write([]byte("ATD*99***1#\r")); err != nil {
		t.Fatal(err)
	}
	readLinesUntil(t, br, 1, func(l string) bool { return strings.HasPrefix(l, "CONNECT") })
	dp.Close()
	if esc, err := modem.EscapeDataPort(ctx, dataPath); !esc || err != nil {
		t.Fatalf("port left in data mode: escaped %v, %v", esc, err)
	}
	if n := sim.CountCommand("ATH"); n != 1 {
		t.Errorf("ATH sent %d times, want once", n)
	}
	if esc, err := modem.EscapeDataPort(ctx, dataPath); esc || err != nil {
		t.Errorf("after the escape: escaped %v, %v; want the port in command mode", esc, err)
	}
}
