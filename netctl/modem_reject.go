package netctl

import (
	"context"
	"errors"

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
