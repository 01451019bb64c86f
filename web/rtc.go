package web

import (
	"errors"
	"time"

	"edgebox/internal/clock"
)

// setSystemClock sets the system clock and the board's (internal/clock:
// the system clock alone came back wrong after a reboot). A board whose
// RTC cannot be written keeps the time until the reboot: that is logged,
// not refused.
func (s *Server) setSystemClock(t time.Time) error {
	err := clock.Set(t, clock.RTC)
	if rtcErr := (*clock.RTCError)(nil); errors.As(err, &rtcErr) {
		s.log.Warn("clock set from the phone", "err", err)
		return nil
	}
	return err
}
