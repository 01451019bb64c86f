package modem_test

import (
	"errors"
	"strings"
	"testing"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// TestPINRefusedInUnknownWords: a card answers a wrong PIN with plain
// ERROR (it ignores AT+CMEE) or in its own words ("+CME ERROR: Incorrect
// PIN"). The PIN is taken as wrong and never sent again, so one attempt
// is spent, not all three; the right PIN then unlocks the SIM. Before,
// plain ERROR was an error of no known cause: the PIN stayed unrecorded
// and was sent at every round until the SIM was blocked.
func TestPINRefusedInUnknownWords(t *testing.T) {
	for _, form := range []string{"plain", "words"} {
		t.Run(form, func(t *testing.T) {
			r := newRig(t, "quectel-ec25", func(c *modemsim.Config) { c.PIN = "4321" })
			ctx := ctxT(t)
			if err := r.sim.CMEForm(form); err != nil {
				t.Fatal(err)
			}
			if err := r.m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrWrongPIN) {
				t.Fatalf("wrong PIN answered %s: %v, want ErrWrongPIN", form, err)
			}
			if err := r.m.EnterPIN(ctx, "1111"); !errors.Is(err, modem.ErrPINAlreadyRejected) {
				t.Errorf("the wrong PIN again: %v, want ErrPINAlreadyRejected", err)
			}
			if left := r.sim.State().PINLeft; left != 2 {
				t.Errorf("%d PIN attempts left, want 2 (one spent)", left)
			}
			if err := r.m.EnterPIN(ctx, "4321"); err != nil {
				t.Fatalf("the right PIN: %v", err)
			}
			if st, err := r.m.SIM(ctx); err != nil || st.State != modem.SIMReady {
				t.Errorf("SIM after the right PIN: %+v %v", st, err)
			}
		})
	}
}

// TestSIMMissingInCardWords: "+CME ERROR: SIM not present" (a card's own
// words for code 10) is a missing SIM, not an unreadable state.
func TestSIMMissingInCardWords(t *testing.T) {
	r := newRig(t, "quectel-ec25", nil)
	if err := r.sim.CMEForm("words"); err != nil {
		t.Fatal(err)
	}
	r.sim.RemoveSIM()
	if st, err := r.m.SIM(ctxT(t)); err != nil || st.State != modem.SIMAbsent {
		t.Errorf("SIM out, said in the card's words: %+v %v", st, err)
	}
}

// TestPUKRefusedInPlainError: a card answers a wrong PUK with plain ERROR
// (it ignores AT+CMEE): the PUK is taken as wrong, with the attempts the
// SIM has left, and never sent again (ten wrong PUKs destroy the SIM).
// Before, the refusal named no known cause and the same PUK could be
// sent again, one attempt each time.
func TestPUKRefusedInPlainError(t *testing.T) {
	r := newRig(t, "generic", nil)
	ctx := ctxT(t)
	r.sim.BlockSIM(5)
	if err := r.sim.CMEForm("plain"); err != nil {
		t.Fatal(err)
	}
	if err := r.m.EnterPUK(ctx, "87654321", "4321"); !errors.Is(err, modem.ErrWrongPUK) {
		t.Fatalf("wrong PUK answered ERROR: %v, want ErrWrongPUK", err)
	}
	if err := r.m.EnterPUK(ctx, "87654321", "4321"); !errors.Is(err, modem.ErrPUKAlreadyRejected) {
		t.Errorf("the wrong PUK again: %v, want ErrPUKAlreadyRejected", err)
	}
	if st, err := r.m.SIM(ctx); err != nil || st.PUKAttempts != 4 {
		t.Errorf("after one wrong PUK: %+v %v, want 4 PUK attempts left", st, err)
	}
}

// TestActivationRefusedWithCMECause: a card that refuses the data
// context's activation with "+CME ERROR: 533" (missing or unknown APN)
// gives a ConnectRefusedError with the network's cause 27, whose words
// tell the installer the APN is wrong, in plain or in verbose form.
// Before, it was "the modem refused the command (missing or unknown
// APN)" at best, and with verbose words no cause at all.
func TestActivationRefusedWithCMECause(t *testing.T) {
	for _, form := range []string{"off", "words"} {
		t.Run(form, func(t *testing.T) {
			r := newRig(t, "generic", func(c *modemsim.Config) { c.AcceptAPN = "right.apn" })
			if form != "off" {
				if err := r.sim.CMEForm(form); err != nil {
					t.Fatal(err)
				}
			}
			err := r.m.Connect(ctxT(t), modem.APN{Name: "wrong.apn"})
			var refused *modem.ConnectRefusedError
			if !errors.As(err, &refused) || !strings.HasPrefix(refused.Cause, "27 ") || !strings.Contains(err.Error(), "the APN is wrong") {
				t.Errorf("wrong APN refused with +CME ERROR 533: %v", err)
			}
		})
	}
}
