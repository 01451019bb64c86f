package netctl

import (
	"context"
	"errors"
	"fmt"

	"edgebox/modem"
)

// rejectCauser is a modem that can say why the network denied it
// (*modem.Modem: +CEREG=3's EMM cause).
type rejectCauser interface {
	RejectCause(ctx context.Context) (int, error)
}

// sayDenied is the status while the network denies the card: the reject
// cause in words with what to do, asked once per denial (three commands),
// or the plain fact when the card gives no cause.
func (s *modemSession) sayDenied(ctx context.Context) string {
	const plain = "registration denied by the network; check the SIM's contract"
	if s.deniedWords != "" {
		return s.deniedWords
	}
	s.deniedWords = plain
	rc, ok := s.drv.(rejectCauser)
	if !ok {
		return plain
	}
	c, cancel := cmdCtx(ctx)
	cause, err := rc.RejectCause(c)
	cancel()
	if err != nil {
		if !errors.Is(err, modem.ErrNoRejectCause) {
			s.m.log.Warn("modem reject cause", "err", err)
		}
		return plain
	}
	s.deniedWords = "registration denied by the network: " + modem.RejectCauseWords(cause)
	return s.deniedWords
}

// sayPUK is the status of a SIM blocked after three wrong PINs. The box
// never enters a PUK by itself (ten wrong ones destroy the SIM), and has
// no way to take one from the installer yet: a phone unblocks it.
func sayPUK(sim *modem.SIMStatus) string {
	left := ""
	if sim != nil && sim.PUKAttempts >= 0 {
		left = fmt.Sprintf(", %d PUK attempts left", sim.PUKAttempts)
	}
	return "the SIM is blocked after three wrong PINs (PUK required" + left + "): put it in a phone, enter the PUK from the SIM's card and set a PIN, then put it back and set that PIN here"
}
