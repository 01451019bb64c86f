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

func newLoginOnlyAMI() *amiServer {
	return &amiServer{cfg: config.GSMAMI{Users: []config.GSMAMIUser{{Username: "sms", Secret: "right-secret-1"}}},
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), sessions: map[*amiSession]struct{}{}, fails: map[netip.Addr]*amiFails{}}
}

// TestSec4AMILockoutIPv6Slash64: a guesser on IPv6 owns its /64 and
// takes a new address for every guess. The lock-out must hold for the
// whole /64 (as web's and the gateway's limiters do); before, each
// address had its own five tries, so the secret could be guessed without
// end from one subscriber line.
func TestSec4AMILockoutIPv6Slash64(t *testing.T) {
	a := newLoginOnlyAMI()
	base := netip.MustParseAddr("2001:db8:1:2::").As16()
	for i := range 50 {
		src := base
		src[15] = byte(i + 1)
		a.login(netip.AddrFrom16(src), "sms", "wrong-guess")
	}
	src := base
	src[15] = 200
	if a.login(netip.AddrFrom16(src), "sms", "right-secret-1") {
		t.Fatal("after 50 wrong guesses from one IPv6 /64, a new address in it logged in: the lock-out counted addresses, not the /64")
	}
	if !a.login(netip.MustParseAddr("2001:db8:1:3::1"), "sms", "right-secret-1") {
		t.Fatal("another /64 was locked out too")
	}
}

// TestSec4AMILockoutSurvivesAFullTable: when the failure table filled up
// (4097 sources with one wrong guess each), it was cleared whole, and
// with it every lock-out: a locked-out guesser went on at once. Locked
// sources must stay locked.
func TestSec4AMILockoutSurvivesAFullTable(t *testing.T) {
	a := newLoginOnlyAMI()
	guesser := netip.MustParseAddr("198.51.100.7")
	for range 5 {
		a.login(guesser, "sms", "wrong-guess")
	}
	for i := range 5000 {
		a.login(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), "sms", "wrong-guess")
	}
	if a.login(guesser, "sms", "right-secret-1") {
		t.Fatal("a locked-out source logged in after 5000 other sources failed once each: the full table was cleared with its lock-outs")
	}
	if len(a.fails) > amiFailsMax+1 {
		t.Fatalf("failure table holds %d sources, want at most about %d", len(a.fails), amiFailsMax)
	}
}

// endless is a peer that sends one line without end, counting what was
// read of it; it gives up at limit (the test's bound, not the server's).
type endless struct{ n, limit int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n >= e.limit {
		return 0, io.ErrUnexpectedEOF
	}
	for i := range p {
		p[i] = 'A'
	}
	e.n += len(p)
	return len(p), nil
}

// TestSec4AMILongLineBounded: the 64 KiB bound of a manager message was
// checked after a whole line was read: a line without a newline (any host
// that reaches the port, before logging in) grew in memory for as long as
// it was sent, gigabytes within the login window. It must be refused
// once it passes the bound.
func TestSec4AMILongLineBounded(t *testing.T) {
	e := &endless{limit: 64 << 20}
	_, err := readAMIMessage(bufio.NewReaderSize(e, 4096))
	if err == nil {
		t.Fatal("an endless line was taken as a message")
	}
	if e.n > 2*maxAMIMessage {
		t.Fatalf("read %d bytes of one line before refusing it (%v), want at most about %d", e.n, err, maxAMIMessage)
	}
}

// TestSec4AMIConnectionsBeforeLoginCapped: each connection that had not
// logged in was kept for the 30 s login window, as many as a host opened:
// one LAN host could take every descriptor of the gateway (portal, SIP,
// calls) by opening a few thousand. At most maxPendingPerSource may wait
// for a login per source; the others are told and closed at once.
func TestSec4AMIConnectionsBeforeLoginCapped(t *testing.T) {
	a := newLoginOnlyAMI()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go a.session(c)
		}
	}()
	const n = 3 * maxPendingPerSource
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(2 * time.Second) // well inside the 30 s login window
	eof := make(chan bool, n)
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		go func() {
			_, err := io.ReadAll(c)
			eof <- err == nil // EOF: the box closed it
		}()
	}
	closed := 0
	for range n {
		if <-eof {
			closed++
		}
	}
	if closed < n-maxPendingPerSource {
		t.Fatalf("%d of %d connections without a login from one address were closed, want at least %d", closed, n, n-maxPendingPerSource)
	}
}
