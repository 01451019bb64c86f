package modem

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSec6DebugLogHidesSMSPDUs: with debug logging on, the engine logged
// every answer line, so the PDU of each SMS read (+CMGR, +CMGL; the
// text, one-time codes included, hex-encoded) sat in netctl's log, which
// a read token reads (GET /api/v1/services/netctl/logs) and remote syslog
// receives. A line that is a PDU is now logged as its length only.
// Sixth review.
func TestSec6DebugLogHidesSMSPDUs(t *testing.T) {
	// "Code 4938" from +4915112345678, 7-bit GSM (SMS-DELIVER)
	const pdu = "07919471060040340409D0C3B7B94C0E8340F8310104011121500943B79B0E12A3E170"
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	open := func() (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		go func() {
			r := bufio.NewReader(b)
			for {
				line, err := r.ReadString('\r')
				if err != nil {
					return
				}
				cmd := strings.TrimSpace(line)
				out := "\r\nOK\r\n"
				if strings.HasPrefix(cmd, "AT+CMGR") {
					out = "\r\n+CMGR: 0,,34\r\n" + pdu + "\r\n\r\nOK\r\n"
				}
				if _, err := io.WriteString(b, out); err != nil {
					return
				}
				time.Sleep(3 * time.Millisecond)
				io.WriteString(b, "\r\n+CMGL: 1,0,,34\r\n"+pdu+"\r\n") // a stray copy
			}
		}()
		return a, nil
	}
	e := NewEngine(EngineConfig{Open: open, Timeout: time.Second, ProbeTimeout: 200 * time.Millisecond, RebootWait: time.Second, Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	res, err := e.Command(ctx, "AT+CMGR=1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text(), pdu) {
		t.Fatalf("the answer lost its PDU (the caller must still get it): %q", res.Text())
	}
	e.Command(ctx, "AT", 0)
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), pdu[20:40]) {
		t.Fatalf("an SMS PDU is in the debug log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "CMGR") {
		t.Fatalf("the log shows no +CMGR at all (the test saw nothing):\n%s", logs.String())
	}
}
