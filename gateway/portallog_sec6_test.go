package gateway_test

import (
	"bytes"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
)

// TestSec6PortalRefusedTLSNotLoggedEach: every connection to the portal
// that ended before its TLS handshake (an internet scanner, or one the
// connection caps refused) wrote a line "http: TLS handshake error from
// ..." to stderr, init's log buffer and remote syslog: a flood of
// connections was a flood of log lines. Now the portal's server errors
// go through the gateway's log, one line a minute with how many came
// since. Not parallel: it watches the standard logger. Sixth review.
func TestSec6PortalRefusedTLSNotLoggedEach(t *testing.T) {
	var std bytes.Buffer
	log.SetOutput(&std)
	defer log.SetOutput(os.Stderr)
	var mu sync.Mutex
	var own bytes.Buffer
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.Portal.PlainHTTP = false
	svc, err := gateway.New(cfg, slog.New(slog.NewTextHandler(lockedBuf{&mu, &own}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	const flood = 200
	for range flood {
		c, err := net.Dial("tcp", svc.PortalAddr())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("GET / HTTP/1.0\r\n\r\n")) // not TLS
		c.Close()
	}
	time.Sleep(500 * time.Millisecond) // the server's goroutines log
	mu.Lock()
	ownLines := strings.Count(own.String(), "TLS handshake error")
	mu.Unlock()
	stdLines := strings.Count(std.String(), "TLS handshake error")
	t.Logf("%d failed handshakes: %d lines on stderr, %d in the gateway's log", flood, stdLines, ownLines)
	if stdLines+ownLines > 2 {
		t.Errorf("%d failed handshakes logged %d lines (stderr %d, gateway %d), want one summary", flood, stdLines+ownLines, stdLines, ownLines)
	}
	if ownLines == 0 {
		t.Error("the failed handshakes are not in the gateway's log at all")
	}
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
