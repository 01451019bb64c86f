package web

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSec6LANCannotFloodWebLog: anyone on the LAN could write web's log
// at will: a source locked out after five wrong passwords got a warning
// line for every further login it sent, and every request for a reset
// code (no login needed) was a line too. Both now log a burst, then a
// line a minute with how many more. Sixth review.
func TestSec6LANCannotFloodWebLog(t *testing.T) {
	var mu sync.Mutex
	var logs bytes.Buffer
	e := newTestEnv(t, true, Options{Log: slog.New(slog.NewTextHandler(lockedBuffer{&mu, &logs}, nil))})
	e.bootstrap()
	old := printResetCode
	printResetCode = func(string, time.Time) {}
	defer func() { printResetCode = old }()
	for range 60 {
		send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"a wrong password here"}`, from: "127.0.0.44"})
		send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password/reset-code", from: "127.0.0.45"})
	}
	mu.Lock()
	defer mu.Unlock()
	waits := strings.Count(logs.String(), "source must wait")
	codes := strings.Count(logs.String(), "reset code requested")
	t.Logf("60 logins and 60 code requests: %d 'must wait' lines, %d 'code requested' lines", waits, codes)
	if waits == 0 || codes == 0 {
		t.Fatal("the refusals are not logged at all")
	}
	if waits > 6 || codes > 6 {
		t.Errorf("%d 'must wait' and %d 'code requested' lines for 60 requests each, want a burst (5) and a summary", waits, codes)
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
