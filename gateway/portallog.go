package gateway

import (
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Lines that strangers can cause at will (a failed TLS handshake per
// connection, a refused TURN peer per request) go through a summaryLog:
// net/http wrote the portal's, one line each, to stderr (init's log
// buffer, remote syslog), and the TURN guard one per CreatePermission, as
// fast as a flood came (sixth review). A burst passes, then one line now
// and then, each saying how many were left out since.

// summaryLog passes burst lines, then one per every, to a slog logger
// and counts the rest.
type summaryLog struct {
	mu      sync.Mutex
	log     *slog.Logger
	lim     *rate.Limiter
	dropped int
}

func newSummaryLog(l *slog.Logger, burst int, every time.Duration) *summaryLog {
	return &summaryLog{log: l, lim: rate.NewLimiter(rate.Every(every), burst)}
}

// newPortalErrorLog is the portal server's ErrorLog: one line a minute.
func newPortalErrorLog(l *slog.Logger) *log.Logger {
	return log.New(newSummaryLog(l, 1, time.Minute), "", 0)
}

// info logs msg with args, or counts it when over the rate.
func (s *summaryLog) info(msg string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lim.Allow() {
		s.dropped++
		return
	}
	if s.dropped > 0 {
		args = append(args, "more_since_last", s.dropped)
	}
	s.log.Info(msg, args...)
	s.dropped = 0
}

func (s *summaryLog) Write(p []byte) (int, error) {
	s.info("portal: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
