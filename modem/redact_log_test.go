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

// A card with echo on sends the PIN command back; one that repeats
// itself sends it twice. Neither copy may put the PIN in the debug log
// (the "rx" line, the stray-line notes), as the command's own log line
// never does.
func TestDebugLogHidesEchoedPIN(t *testing.T) {
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
				// echo, answer, then the echo and answer again (a card
				// that repeats itself), a few milliseconds late
				out := cmd + "\r\r\nOK\r\n"
				if _, err := io.WriteString(b, out); err != nil {
					return
				}
				time.Sleep(3 * time.Millisecond)
				io.WriteString(b, out)
			}
		}()
		return a, nil
	}
	e := NewEngine(EngineConfig{Open: open, Timeout: time.Second, ProbeTimeout: 200 * time.Millisecond, RebootWait: time.Second, Logger: logger})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, cmd := range []string{`AT+CPIN="7391"`, "AT+CGMI", `AT+CPIN="7391"`, "AT"} {
		if _, err := e.Command(ctx, cmd, 0); err != nil {
			t.Fatalf("%s: %v", RedactAT(cmd), err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the last copy read and logged
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "7391") {
		t.Fatalf("the PIN is in the debug log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "CPIN") {
		t.Fatalf("the log shows no PIN command at all (the test saw nothing):\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
