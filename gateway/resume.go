package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// A phone that walks out of Wi-Fi onto the mobile network loses its
// signaling socket with its address. A client that asked for it at auth
// (resumable) gets a secret in authorized; within resumeGrace after its
// socket dropped it may connect again and send resume (call_id and that
// secret) as its first message: the new socket then carries the call, and
// the client restarts ICE with a new offer (callrestart.go). Media never
// stopped being relayed meanwhile.

// resumeGrace is how long a call whose client's socket dropped waits for
// it to come back.
const resumeGrace = 20 * time.Second

// clientLink is the client side of a JSON-protocol call across the
// sockets that carry it. One pump goroutine owns the call's in channel;
// each socket's reader feeds the pump, so that a reader left over from a
// dead socket can never send on a closed channel.
type clientLink struct {
	sig       *wsSignaler
	resumable bool
	secret    [32]byte // SHA-256 of the resume secret
	feed      chan Message
	malformed atomic.Bool

	mu   sync.Mutex
	gen  uint64        // the socket now carrying the call
	next chan struct{} // closed when a resume takes over
	gone chan struct{} // closed when the client is gone for good
	left bool
}

// newClientLink makes the link of call c (JSON protocol) and starts its
// pump; with resumable it returns the resume secret for the client.
func newClientLink(c *call, sig *wsSignaler, resumable bool) (*clientLink, string) {
	l := &clientLink{sig: sig, resumable: resumable, feed: make(chan Message), gen: 1,
		next: make(chan struct{}), gone: make(chan struct{})}
	secret := ""
	if resumable {
		var b [24]byte
		rand.Read(b[:])
		secret = base64.RawURLEncoding.EncodeToString(b[:])
		l.secret = sha256.Sum256([]byte(secret))
	}
	go l.pump(c)
	return l, secret
}

// pump hands the readers' messages to the call and closes its in channel
// when the client is gone.
func (l *clientLink) pump(c *call) {
	for {
		select {
		case m := <-l.feed:
			select {
			case c.in <- m:
			case <-c.done:
				return
			}
		case <-l.gone:
			close(c.in)
			return
		case <-c.done:
			return
		}
	}
}

// leave ends the client's part of the call if gen still carries it.
func (l *clientLink) leave(gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen == l.gen && !l.left {
		l.left = true
		close(l.gone)
	}
}

// waitResume is what a reader whose socket dropped does: it reports
// whether another socket took the call over (then this reader just ends).
func (l *clientLink) waitResume(c *call, gen uint64, err error) bool {
	l.mu.Lock()
	if gen != l.gen {
		l.mu.Unlock()
		return true // taken over already
	}
	next := l.next
	l.mu.Unlock()
	// A client that closed on purpose (hangup, page left) does not come back.
	if !l.resumable || websocket.CloseStatus(err) != -1 {
		return false
	}
	c.log.Info("the client's socket dropped; waiting for it to resume", "grace", resumeGrace, "err", err)
	t := time.NewTimer(resumeGrace)
	defer t.Stop()
	select {
	case <-next:
		return true
	case <-c.done:
		return true
	case <-t.C:
		c.log.Info("the client did not come back")
		return false
	}
}

// readClient reads one socket's messages into the call until the socket
// ends, the call ends or another socket takes over.
// The read has no deadline of its own: a read whose context ends closes
// the socket without a close frame, so the socket's owner closes it (with
// the documented code) when the call ends, and that ends the read.
func (s *Service) readClient(c *call, l *clientLink, conn *websocket.Conn, gen uint64) {
	ctx := context.Background()
	bad := 0
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if !l.waitResume(c, gen, err) {
				l.leave(gen)
			}
			return
		}
		m, err := decodeMessage(data)
		if err != nil {
			bad++
			l.sig.send(Message{Type: MsgError, Code: CodeBadMessage, Error: err.Error()})
			if bad >= maxBadMessages {
				l.malformed.Store(true)
				l.leave(gen)
				return
			}
			continue
		}
		if m.Type == MsgPing {
			// The client's heartbeat: a socket that stops answering is
			// one the network took (the SDK then resumes on a new one).
			l.sig.send(Message{Type: MsgPong})
			continue
		}
		select {
		case l.feed <- m:
		case <-c.done:
			return
		}
	}
}

var errNoResume = errors.New("no call to resume with that call_id and secret (it ended, or the secret is wrong): ask the portal for a new token")

// resume takes a call over on a new socket: first message m (resume).
func (s *Service) resume(r *http.Request, conn *websocket.Conn, sig *wsSignaler, m Message) {
	src := remoteIP(r)
	s.mu.Lock()
	c := s.calls[m.CallID]
	var l *clientLink
	if c != nil {
		l = c.link
	}
	s.mu.Unlock()
	h := sha256.Sum256([]byte(m.Resume))
	if l == nil || !l.resumable || subtle.ConstantTimeCompare(h[:], l.secret[:]) != 1 {
		s.metrics.tokenRefusals.WithLabelValues("unknown").Inc()
		s.portalLimit.allow(src)
		sig.send(Message{Type: MsgError, Code: CodeBadToken, Error: errNoResume.Error()})
		conn.Close(websocket.StatusPolicyViolation, CloseBadToken)
		return
	}
	l.mu.Lock()
	if l.left {
		l.mu.Unlock()
		sig.send(Message{Type: MsgError, Code: CodeBadToken, Error: errNoResume.Error()})
		conn.Close(websocket.StatusPolicyViolation, CloseBadToken)
		return
	}
	l.gen++
	gen := l.gen
	close(l.next)
	l.next = make(chan struct{})
	old := l.sig.swap(conn)
	l.mu.Unlock()
	if old != nil && old != conn {
		old.CloseNow() // its reader ends and sees it was taken over
	}
	c.log.Info("the client resumed the call on a new socket", "src", src)
	l.sig.send(Message{Type: MsgResumed, CallID: c.ID})
	readDone := make(chan struct{})
	go func() {
		select {
		case <-c.done:
			closeAfterCall(conn, l)
		case <-readDone:
		}
	}()
	s.readClient(c, l, conn, gen)
	close(readDone)
	if l.malformed.Load() {
		conn.Close(websocket.StatusPolicyViolation, CloseMalformed)
	}
}

// closeAfterCall closes a call's socket as docs/gateway-protocol.md says.
func closeAfterCall(conn *websocket.Conn, l *clientLink) {
	if l.malformed.Load() {
		conn.Close(websocket.StatusPolicyViolation, CloseMalformed)
		return
	}
	conn.Close(websocket.StatusNormalClosure, CloseCallEnded)
}
