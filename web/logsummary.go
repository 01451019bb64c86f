package web

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// summaryLog passes a burst of lines, then one a minute saying how many
// were left out. For lines anyone on the LAN causes at will: a locked-out
// source that went on sending logins, and every request for a reset
// code, wrote one line each to web's log (init's log buffer, remote
// syslog), as fast as it sent them (sixth review).
type summaryLog struct {
	mu      sync.Mutex
	lim     *rate.Limiter
	dropped int
}

func (s *summaryLog) warn(log *slog.Logger, msg string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lim == nil {
		s.lim = rate.NewLimiter(rate.Every(time.Minute), 5)
	}
	if !s.lim.Allow() {
		s.dropped++
		return
	}
	if s.dropped > 0 {
		args = append(args, "more_since_last", s.dropped)
	}
	log.Warn(msg, args...)
	s.dropped = 0
}
