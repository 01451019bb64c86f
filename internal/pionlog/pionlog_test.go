package pionlog

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// pion's warnings and errors reach the log, except the lines it writes
// in the normal course of most calls: sockets and streams closed under a
// call being hung up, checks due before the peer's candidates arrived.
func TestQuietsRoutineNoise(t *testing.T) {
	var buf bytes.Buffer
	l := Factory(slog.New(slog.NewTextHandler(&buf, nil))).NewLogger("ice")
	l.Warnf("Failed to read from candidate %s: %v", "udp4 host 127.0.0.1:5", io.ErrClosedPipe)
	l.Warn("Failed to accept RTP stream is already closed")
	l.Errorf("Failed to write packet: %v", io.ErrClosedPipe)
	l.Warn("Failed to ping without candidate pairs. Connection is not possible yet.")
	if buf.Len() != 0 {
		t.Errorf("shutdown noise logged:\n%s", buf.String())
	}
	l.Errorf("Failed to handshake: %v", "bad certificate")
	l.Warn("Failed to handle inbound message")
	if got := buf.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "bad certificate") ||
		!strings.Contains(got, "level=WARN") || !strings.Contains(got, "pion=ice") {
		t.Errorf("real problems not logged as such:\n%s", got)
	}
}
