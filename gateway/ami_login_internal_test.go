package gateway

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"edgebox/internal/config"
)

// TestAMILoginWindowIsAbsolute: a connection that does not log in is
// dropped amiLoginWindow after it connected, whatever it sends meanwhile.
// Before, the window restarted with every message: an "Action: Ping"
// now and then kept an unauthenticated session (a goroutine and a
// descriptor) for ever, as many as a LAN host liked to open.
func TestAMILoginWindowIsAbsolute(t *testing.T) {
	old := amiLoginWindow
	amiLoginWindow = time.Second
	defer func() { amiLoginWindow = old }()
	a := &amiServer{cfg: config.GSMAMI{Users: []config.GSMAMIUser{{Username: "u", Secret: "secret-123"}}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), sessions: map[*amiSession]struct{}{}, fails: map[netip.Addr]*amiFails{}}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			a.session(c)
		}
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, bufio.NewReader(c))
		close(closed)
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case <-closed:
			return
		case <-deadline:
			t.Fatal("an AMI connection sending pings without logging in is still open after 10 s, want dropped")
		case <-time.After(200 * time.Millisecond):
			c.Write([]byte("Action: Ping\r\n\r\n"))
		}
	}
}
