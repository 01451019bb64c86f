package modemsim

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// pppPeer stands in for the carrier's pppd: it answers each line and
// exits on "bye".
var pppPeer = []string{"/bin/sh", "-c", `echo PEER-UP; while read l; do echo "peer:$l"; [ "$l" = bye ] && exit 0; done`}

type stream struct {
	t    *testing.T
	c    net.Conn
	mu   sync.Mutex
	seen strings.Builder
	off  int
}

func callOn(t *testing.T, profile string, peer []string) (*Sim, *stream) {
	t.Helper()
	sim, err := New(Config{Profile: profile, PPPPeer: peer, EscapeGuard: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sim.Serve(ctx, a); close(done) }()
	st := &stream{t: t, c: b}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := b.Read(buf)
			st.mu.Lock()
			st.seen.Write(buf[:n])
			st.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		b.Close()
		<-done
		sim.Close()
	})
	time.Sleep(300 * time.Millisecond) // boot
	st.send("ATE0\r")
	st.expect("OK")
	return sim, st
}

func (st *stream) send(s string) {
	st.t.Helper()
	st.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := st.c.Write([]byte(s)); err != nil {
		st.t.Fatalf("write %q: %v", s, err)
	}
}

// expect waits for want after the previous match and consumes up to it.
func (st *stream) expect(want string) {
	st.t.Helper()
	testenv.WaitFor(st.t, 10*time.Second, fmt.Sprintf("%q from the modem", want), func() (bool, error) {
		st.mu.Lock()
		defer st.mu.Unlock()
		rest := st.seen.String()[st.off:]
		i := strings.Index(rest, want)
		if i < 0 {
			return false, fmt.Errorf("not in %q", rest)
		}
		st.off += i + len(want)
		return true, nil
	})
}

func (st *stream) rest() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.seen.String()[st.off:]
}

// TestPPPCallPeerExits: the dial connects the byte stream to the peer
// both ways; when the peer exits the modem says NO CARRIER once and
// answers AT again, with the link down.
func TestPPPCallPeerExits(t *testing.T) {
	for _, profile := range []string{"sierra-mc8775", "generic"} {
		t.Run(profile, func(t *testing.T) {
			sim, st := callOn(t, profile, pppPeer)
			st.send("ATD*99***1#\r")
			st.expect("CONNECT")
			st.expect("PEER-UP")
			st.send("hello\n")
			st.expect("peer:hello")
			st.send("AT\r\n") // data, not a command
			st.expect("peer:AT")
			if sim.State().Link != 1 {
				t.Errorf("link %d during the call", sim.State().Link)
			}
			st.send("bye\n")
			st.expect("peer:bye")
			st.expect("\r\nNO CARRIER\r\n")
			st.send("AT\r")
			st.expect("OK")
			if strings.Contains(st.rest(), "NO CARRIER") {
				t.Errorf("NO CARRIER twice: %q", st.rest())
			}
			if l := sim.State().Link; l != 0 && profile == "sierra-mc8775" {
				t.Errorf("link %d after the call", l)
			}
		})
	}
}

// TestPPPCallEscapeHangUp: "+++" after the guard time goes to online
// command mode; AT commands are answered there; ATO resumes the call; ATH
// ends it and stops the peer, without NO CARRIER.
func TestPPPCallEscapeHangUp(t *testing.T) {
	sim, st := callOn(t, "sierra-mc8775", pppPeer)
	st.send("ATD*99***1#\r")
	st.expect("CONNECT")
	st.expect("PEER-UP")
	time.Sleep(300 * time.Millisecond) // guard time before
	st.send("+++")
	st.expect("\r\nOK\r\n")
	st.send("AT+CGMM\r")
	st.expect("MC8775")
	st.expect("OK")
	st.send("ATO\r")
	st.expect("CONNECT")
	st.send("again\n")
	st.expect("peer:+++again") // like a Hayes modem, the escape went out as data too
	time.Sleep(300 * time.Millisecond)
	st.send("+++")
	st.expect("\r\nOK\r\n")
	st.send("ATH\r")
	st.expect("\r\nOK\r\n")
	st.send("AT\r")
	st.expect("OK")
	if r := st.rest(); strings.Contains(r, "NO CARRIER") || strings.Contains(r, "peer:") {
		t.Errorf("after ATH: %q", r)
	}
	if sim.State().Link != 0 {
		t.Errorf("link %d after ATH", sim.State().Link)
	}
	// "+++" inside data (no guard time) is data.
	st.send("ATD*99***1#\r")
	st.expect("CONNECT")
	st.expect("PEER-UP")
	st.send("x+++\n")
	st.expect("peer:x+++")
	time.Sleep(400 * time.Millisecond)
	if strings.Contains(st.rest(), "OK") {
		t.Errorf("escape recognised inside data: %q", st.rest())
	}
}

// TestPPPCallNetworkDrop: the network drops the call: the peer is stopped
// and the modem says NO CARRIER once.
func TestPPPCallNetworkDrop(t *testing.T) {
	sim, st := callOn(t, "sierra-mc8775", pppPeer)
	st.send("ATD*99***1#\r")
	st.expect("CONNECT")
	st.expect("PEER-UP")
	sim.DropData()
	st.expect("NO CARRIER")
	st.send("AT\r")
	st.expect("OK")
	if strings.Contains(st.rest(), "NO CARRIER") {
		t.Errorf("NO CARRIER twice: %q", st.rest())
	}
}

// TestPPPCallPeerMissing: a peer that cannot start ends the call at once.
func TestPPPCallPeerMissing(t *testing.T) {
	sim, st := callOn(t, "generic", []string{"/nonexistent/pppd"})
	st.send("ATD*99***1#\r")
	st.expect("CONNECT")
	st.expect("NO CARRIER")
	st.send("AT\r")
	st.expect("OK")
	if sim.State().Link != 0 {
		t.Errorf("link %d", sim.State().Link)
	}
}

// Without a peer, the dial keeps its old behaviour (CONNECT, then AT).
func TestDialWithoutPeer(t *testing.T) {
	_, st := callOn(t, "sierra-mc8775", nil)
	st.send("ATD*99***1#\r")
	st.expect("CONNECT")
	st.send("AT\r")
	st.expect("OK")
}
