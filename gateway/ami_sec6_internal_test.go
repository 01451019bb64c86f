package gateway

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
)

// TestSec6AMILockedOutTriesNotLoggedEach: a LAN host locked out of the
// AMI that reconnected and sent logins in a loop got a warning line in
// the gateway's log for every try, as fast as it sent them (three a
// connection, connections without bound over time). The refusal is
// logged once per lock-out now. Sixth review.
func TestSec6AMILockedOutTriesNotLoggedEach(t *testing.T) {
	a := newLoginOnlyAMI()
	var logs bytes.Buffer
	a.log = slog.New(slog.NewTextHandler(&logs, nil))
	src := netip.MustParseAddr("192.168.1.50")
	for range 1000 {
		a.login(src, "sms", "wrong-guess")
	}
	lines := strings.Count(logs.String(), "\n")
	if lines > 10 {
		t.Errorf("1000 failed logins from one host logged %d lines, want the failures up to the lock-out and one refusal", lines)
	}
	if !strings.Contains(logs.String(), "locked out") {
		t.Error("the lock-out is not logged")
	}
}
