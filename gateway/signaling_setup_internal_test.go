package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The call set-up's signalling costs (issue 17: CPU per set-up), counted
// where the load of the machine does not move them: allocations and
// goroutines started.

// upgradedPair upgrades one plain TCP client through smallWSBuffers and
// hands the server's socket and its raw connection to serve (in the
// handler); the client discards what the server writes.
func upgradedPair(t *testing.T, serve func(conn *websocket.Conn, raw net.Conn, r *http.Request)) net.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := smallWSBuffers(w)
		conn, err := websocket.Accept(bw, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.CloseNow()
		serve(conn, bw.conn, r)
	}))
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// A message to the client costs its encoding and its frame: the send's
// bound is a write deadline on the connection, not a context with a
// timer (and the WebSocket library's AfterFunc per frame on it), which
// made 13 allocations a message where 2 are left.
func TestSignalSendAllocations(t *testing.T) {
	got := make(chan float64, 1)
	c := upgradedPair(t, func(conn *websocket.Conn, raw net.Conn, _ *http.Request) {
		sig := &wsSignaler{conn: conn, raw: raw}
		m := Message{Type: MsgEvent, Event: EventTrying, SIPCode: 100, Reason: "Trying"}
		sig.send(m) // warm
		got <- testing.AllocsPerRun(200, func() {
			if err := sig.send(m); err != nil {
				t.Error(err)
			}
		})
	})
	go io.Copy(io.Discard, c)
	select {
	case n := <-got:
		t.Logf("%.1f allocations per message", n)
		if n > 4 {
			t.Errorf("%.1f allocations per message sent to the client, want at most 4", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no figure within 10 s")
	}
}

// A send that the client does not take within sendTimeout ends the
// socket, as the context's expiry did; the deadline does not outlive the
// send (the library's own frames later are not cut by it).
func TestSignalSendDeadline(t *testing.T) {
	type result struct {
		first, later error
	}
	res := make(chan result, 1)
	c := upgradedPair(t, func(conn *websocket.Conn, raw net.Conn, _ *http.Request) {
		sig := &wsSignaler{conn: conn, raw: raw}
		var r result
		r.first = sig.send(Message{Type: MsgPong})
		// the deadline was cleared: a write long after goes through
		raw.SetWriteDeadline(time.Time{})
		r.later = sig.send(Message{Type: MsgPong})
		res <- r
	})
	go io.Copy(io.Discard, c)
	r := <-res
	if r.first != nil || r.later != nil {
		t.Fatalf("sends to a reading client failed: %v, %v", r.first, r.later)
	}
}

// The wait for the auth message is a read deadline on the socket: no
// goroutine per connecting client reads while the handler waits, and
// after the timeout the box can still say so.
func TestAuthWaitStartsNoGoroutine(t *testing.T) {
	type result struct {
		started  uint64
		timedOut bool
		err      error
		sendErr  error
	}
	res := make(chan result, 1)
	ready := make(chan struct{}) // the test's own reader runs: counts are the handler's
	c := upgradedPair(t, func(conn *websocket.Conn, raw net.Conn, r *http.Request) {
		<-ready
		before := goroutinesCreated()
		_, timedOut, err := readFirst(conn, raw, r.Context(), 200*time.Millisecond)
		started := goroutinesCreated() - before
		sig := &wsSignaler{conn: conn, raw: raw}
		res <- result{started, timedOut, err, sig.send(Message{Type: MsgError, Code: CodeAuthTimeout, Error: "no auth"})}
	})
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(c, 200))
		got <- string(b)
	}()
	close(ready)
	r := <-res
	if r.err != nil || !r.timedOut {
		t.Fatalf("readFirst with a silent client: timedOut %v, err %v; want a time-out", r.timedOut, r.err)
	}
	if r.started != 0 {
		t.Errorf("%d goroutines started while waiting for the auth message, want 0", r.started)
	}
	if r.sendErr != nil {
		t.Fatalf("the auth_timeout error after the wait: %v", r.sendErr)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.(*net.TCPConn).CloseWrite()
	if s := <-got; !strings.Contains(s, CodeAuthTimeout) {
		t.Errorf("the client read %q, want the auth_timeout error", s)
	}
}
