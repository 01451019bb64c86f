package gateway

import (
	"time"

	"github.com/emiago/sipgo/sip"
)

// SetAcceptedWindow shortens the answer's accepted window (RFC 6026's
// Timer M, a package variable of sipgo: its INVITE transactions and the
// calls' dialog slimming both read it) to d, so a test's calls reach what
// every call older than 32 s runs on; the returned func puts it back.
// Call it only from a test that is not parallel.
func SetAcceptedWindow(d time.Duration) (restore func()) {
	old := sip.Timer_M
	sip.Timer_M = d
	return func() { sip.Timer_M = old }
}

// DialogsSlimmed is how many calls of s had their SIP dialog slimmed.
func DialogsSlimmed(s *Service) int64 { return s.dialogsSlimmed.Load() }
