package web

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// A script or portal server that opens more than maxConnsPerSource
// connections at once sees only resets on the extra ones: the log must
// say why, or the admin cannot tell a cap from a broken box.
func TestConnCapRefusalLogged(t *testing.T) {
	var logs testenv.LogBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &filterListener{Listener: ln, policy: NewAccessPolicy(nil, nil), caps: &connCap{}}
	defer fl.Close()
	accepted := make(chan net.Conn, maxConnsPerSource+1)
	go func() {
		for {
			c, err := fl.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.9")}}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range maxConnsPerSource + 1 {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// the last one is closed by the listener: its read ends
	last := conns[len(conns)-1]
	last.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := last.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection over the cap was not closed")
	}
	for range maxConnsPerSource {
		(<-accepted).Close()
	}
	if out := logs.String(); !strings.Contains(out, "too many open at once") || !strings.Contains(out, "127.0.0.9") {
		t.Errorf("the closed connection is not in the log:\n%s", out)
	}
}
