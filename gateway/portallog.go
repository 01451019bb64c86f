package gateway

import (
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// portalErrorLogEvery is how often the portal's server errors reach the
// log: the internet's scanners, and every connection the caps refuse,
// end in a failed TLS handshake that net/http logged one line each, to
// stderr (init's log buffer, remote syslog), as fast as a flood came
// (sixth review). Now one line a minute says the latest and how many
// came since.
const portalErrorLogEvery = time.Minute

// summaryLog is a log.Logger's writer that passes one message per period
// to a slog logger and counts the rest.
type summaryLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	every   time.Duration
	now     func() time.Time
	last    time.Time
	dropped int
}

func newPortalErrorLog(l *slog.Logger) *log.Logger {
	return log.New(&summaryLog{log: l, every: portalErrorLogEvery, now: time.Now}, "", 0)
}

func (s *summaryLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.last.IsZero() && now.Sub(s.last) < s.every {
		s.dropped++
		return len(p), nil
	}
	s.log.Info("portal: "+strings.TrimSpace(string(p)), "more_since_last", s.dropped)
	s.last, s.dropped = now, 0
	return len(p), nil
}
