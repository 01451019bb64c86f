package modem_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// Cards that word their answers other than 27.007 does, and a SIM swapped
// while the card runs (modemsim's cardfaults.go). Each case is one a card
// in the field shows; the box must read the same facts from it.

// TestSIMSwappedAfterUnlock: the SIM is swapped for another, locked one
// moments after the first took its PIN, and the card says only "+CPIN: SIM
// PIN" (no "not inserted" between). The PIN must be entered on the new SIM:
// before, the box took the new SIM's "SIM PIN" for the old SIM lagging
// behind its accepted PIN, waited 20 s and said "accepted the PIN but is
// not ready yet", for a minute.
func TestSIMSwappedAfterUnlock(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25", "generic"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, func(c *modemsim.Config) { c.PIN = "4321" })
			ctx := ctxT(t)
			if err := r.m.EnterPIN(ctx, "4321"); err != nil {
				t.Fatalf("PIN of the first SIM: %v", err)
			}
			if err := r.sim.SwapSIM("89490200009876543210", "4321"); err != nil {
				t.Fatal(err)
			}
			st, err := r.m.SIM(ctx)
			if err != nil || st.State != modem.SIMPIN || st.ICCID == "" {
				t.Fatalf("after the swap: %+v %v, want SIM PIN with the new ICCID", st, err)
			}
			if err := r.m.EnterPIN(ctx, "4321"); err != nil {
				t.Fatalf("PIN of the swapped-in SIM: %v", err)
			}
			n := 0
			for _, c := range r.sim.Commands() {
				if strings.HasPrefix(c, "AT+CPIN=") {
					n++
				}
			}
			if n != 2 {
				t.Errorf("%d PINs sent, want 2 (one per SIM)", n)
			}
			if st, err := r.m.SIM(ctx); err != nil || st.State != modem.SIMReady {
				t.Errorf("swapped-in SIM: %+v %v, want ready", st, err)
			}
		})
	}
}

// TestSIMSwappedWrongPINNotRetried: the swapped-in SIM has another PIN.
// The configured PIN is tried once on it and never again; the first SIM's
// acceptance of that PIN does not make the box send it twice.
func TestSIMSwappedWrongPINNotRetried(t *testing.T) {
	r := newRig(t, "quectel-ec25", func(c *modemsim.Config) { c.PIN = "4321" })
	ctx := ctxT(t)
	if err := r.m.EnterPIN(ctx, "4321"); err != nil {
		t.Fatalf("PIN of the first SIM: %v", err)
	}
	if err := r.sim.SwapSIM("89490200009876543210", "1111"); err != nil {
		t.Fatal(err)
	}
	if err := r.m.EnterPIN(ctx, "4321"); !errors.Is(err, modem.ErrWrongPIN) {
		t.Fatalf("first SIM's PIN on the new SIM: %v, want ErrWrongPIN", err)
	}
	if err := r.m.EnterPIN(ctx, "4321"); !errors.Is(err, modem.ErrPINAlreadyRejected) {
		t.Fatalf("second try: %v, want ErrPINAlreadyRejected", err)
	}
}

// TestOperatorNameInUCS2Hex: Huawei firmware names the operator in UCS-2
// hex ("00540065006C..."), whatever AT+CSCS says. The box shows the name.
func TestOperatorNameInUCS2Hex(t *testing.T) {
	r := newRig(t, "huawei-me909s", func(c *modemsim.Config) { c.Operator = "Telekom.de" })
	ctx := ctxT(t)
	r.sim.OperatorUCS2(true)
	reg, err := r.m.Registration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reg.Operator != "Telekom.de" {
		t.Errorf("operator %q, want Telekom.de", reg.Operator)
	}
}

// TestRegistrationWithUnquotedHexIDs: LAC and cell id unquoted and made of
// digits only (+CEREG: 2,1,1234,01234567,7), in the answer and in URCs.
func TestRegistrationWithUnquotedHexIDs(t *testing.T) {
	r := newRig(t, "quectel-ec25", nil)
	ctx := ctxT(t)
	r.sim.RawRegistration(true)
	reg, err := r.m.Registration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reg.State.Registered() || reg.LAC != "1234" || reg.CellID != "01234567" || reg.Tech != modem.TechLTE {
		t.Errorf("registration %+v, want home, LAC 1234, cell 01234567, LTE", reg)
	}
	// A URC of that shape inside the answer to AT+CEREG? is a URC: the
	// roaming it reports reaches the events.
	r.sim.URCInNextResponse("+CEREG: 5,1234,01234567,7")
	if _, err := r.m.Registration(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, r.m, modem.EventRegistration, func(ev modem.Event) bool {
		return ev.Registration != nil && ev.Registration.State == modem.RegRoaming
	})
}

// TestSignalNotKnownWhileRegistered: every signal query answers "not
// known" (+CSQ: 99,99, 255s, NOSERVICE) during cell reselection. The box
// reports no value rather than -113 dBm or an error.
func TestSignalNotKnownWhileRegistered(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25", "dell-dw5550", "generic"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			r.sim.NoSignal(true)
			s, err := r.m.Signal(ctx)
			if err != nil {
				t.Fatalf("signal not known: %v", err)
			}
			if s.RSSI != nil || s.RSRP != nil || s.RSCP != nil {
				t.Errorf("signal %+v: a value for a signal the card does not know", s)
			}
		})
	}
}

// TestVerboseErrorText: a card that answers +CME ERROR in words whatever
// AT+CMEE says: a missing SIM, a wrong PIN and a busy SIM are still known.
func TestVerboseErrorText(t *testing.T) {
	r := newRig(t, "quectel-ec25", func(c *modemsim.Config) { c.PIN = "4321" })
	ctx := ctxT(t)
	r.sim.VerboseErrors(true)
	if err := r.m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrWrongPIN) {
		t.Fatalf("wrong PIN with a verbose error: %v, want ErrWrongPIN", err)
	}
	r.sim.RemoveSIM()
	if st, err := r.m.SIM(ctx); err != nil || st.State != modem.SIMAbsent {
		t.Fatalf("SIM out with a verbose error: %+v %v", st, err)
	}
}

// TestLineEndsCROrLF: a card ending its lines with CR only or LF only
// (and its echo the same way) is read as one ending them with CR LF: the
// identity, SIM, registration and an SMS (whose "> " prompt has no line
// end at all).
func TestLineEndsCROrLF(t *testing.T) {
	for _, eol := range []string{"\r", "\n"} {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF").Replace(eol), func(t *testing.T) {
			r := newRig(t, "quectel-ec25", nil)
			ctx := ctxT(t)
			if err := r.sim.SetLineEnd(eol); err != nil {
				t.Fatal(err)
			}
			checkCardReadable(t, r)
			if _, err := r.m.Engine().Command(ctx, "ATE1", 0); err != nil {
				t.Fatalf("ATE1: %v", err)
			}
			checkCardReadable(t, r)
			if _, err := r.m.SendSMS(ctx, "+4915112345678", "line ends"); err != nil {
				t.Fatalf("SMS: %v", err)
			}
		})
	}
}

// TestAnswerInPiecesWithPauses: every write reaches the box in two pieces
// 400 ms apart (a slow USB link, a card flushing half a buffer): lines
// are joined across reads, and no piece is taken for a whole answer.
func TestAnswerInPiecesWithPauses(t *testing.T) {
	r := newRig(t, "huawei-me909s", nil)
	r.sim.SplitWrites(400 * time.Millisecond)
	checkCardReadable(t, r)
}

func checkCardReadable(t *testing.T, r *rig) {
	t.Helper()
	ctx := ctxT(t)
	id, err := r.m.Identity(ctx)
	if err != nil || id.IMEI != "867223020123456" || id.IMSI != "262011234567890" {
		t.Fatalf("identity %+v %v", id, err)
	}
	if st, err := r.m.SIM(ctx); err != nil || st.State != modem.SIMReady {
		t.Fatalf("SIM %+v %v", st, err)
	}
	if reg, err := r.m.Registration(ctx); err != nil || !reg.State.Registered() {
		t.Fatalf("registration %+v %v", reg, err)
	}
}
