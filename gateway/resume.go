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
// sockets that carry it. One reader goroutine per call reads whichever
// socket carries the call now and is the only one to send on, and close,
// the call's in channel; a resume hands it the new socket.
type clientLink struct {
	sig       *wsSignaler
	resumable bool
	secret    [32]byte // SHA-256 of the resume secret
	malformed atomic.Bool

	mu   sync.Mutex
	conn *websocket.Conn // the socket carrying the call
	gen  uint64          // counts the sockets
	next chan struct{}   // closed when a resume takes over
	left bool            // the client is gone for good
}

// newClientLink makes the link of a call on conn (JSON protocol); with
// resumable it returns the resume secret for the client.
func newClientLink(conn *websocket.Conn, sig *wsSignaler, resumable bool) (*clientLink, string) {
	l := &clientLink{sig: sig, resumable: resumable, conn: conn, gen: 1, next: make(chan struct{})}
	secret := ""
	if resumable {
		var b [24]byte
		rand.Read(b[:])
		secret = base64.RawURLEncoding.EncodeToString(b[:])
		l.secret = sha256.Sum256([]byte(secret))
	}
	return l, secret
}

// current is the socket carrying the call, its number, and the channel a
// resume closes.
func (l *clientLink) current() (*websocket.Conn, uint64, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn, l.gen, l.next
}

// waitResume is what the reader does when socket gen failed with err: it
// reports whether another socket carries the call now.
func (l *clientLink) waitResume(c *call, gen uint64, next chan struct{}, err error) bool {
	l.mu.Lock()
	if gen != l.gen {
		l.mu.Unlock()
		return true // taken over already
	}
	l.mu.Unlock()
	// A client that closed on purpose (hangup, page left) does not come
	// back; neither does one that did not ask to.
	if l.resumable && websocket.CloseStatus(err) == -1 && !isDone(c.done) {
		c.log.Info("the client's socket dropped; waiting for it to resume", "grace", resumeGrace, "err", err)
		t := time.NewTimer(resumeGrace)
		defer t.Stop()
		select {
		case <-next:
			return true
		case <-c.done:
		case <-t.C:
			c.log.Info("the client did not come back")
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if gen != l.gen {
		return true // a resume came at the last moment
	}
	l.left = true
	return false
}

// readClient is the call's reader: it reads the client's messages into
// the call from whichever socket carries it, until the client is gone or
// the call is over, then closes the call's in channel. Reads have no
// deadline of their own (a read whose context ends closes the socket
// without a close frame): each socket's owner closes it, with the
// documented code, when the call ends.
func (s *Service) readClient(c *call, l *clientLink) {
	defer close(c.in)
	for {
		conn, gen, next := l.current()
		err := s.readSocket(c, l, conn)
		if err == nil || l.malformed.Load() || isDone(c.done) {
			return
		}
		if !l.waitResume(c, gen, next, err) {
			return
		}
	}
}

// readSocket reads one socket until it fails (its error), the call ends
// or the client sent too many malformed messages (nil).
func (s *Service) readSocket(c *call, l *clientLink, conn *websocket.Conn) error {
	bad := 0
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return err
		}
		if !takeMessage(c, l, data, &bad) {
			return nil
		}
	}
}

// takeMessage handles one message of the client; false ends the reading
// (the call ended, or too many malformed messages). It is not inlined:
// its Message values (a few hundred bytes each) stay out of the frame
// the reader waits in, so an idle call's reader keeps a small stack.
//
//go:noinline
func takeMessage(c *call, l *clientLink, data []byte, bad *int) bool {
	m, err := decodeMessage(data)
	if err != nil {
		*bad++
		l.sig.send(Message{Type: MsgError, Code: CodeBadMessage, Error: err.Error()})
		if *bad >= maxBadMessages {
			l.malformed.Store(true)
			return false
		}
		return true
	}
	if m.Type == MsgPing {
		// The client's heartbeat: a socket that stops answering is
		// one the network took (the SDK then resumes on a new one).
		l.sig.send(Message{Type: MsgPong})
		return true
	}
	select {
	case c.in <- &m:
		return true
	case <-c.done:
		return false
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
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
	next := make(chan struct{})
	close(l.next)
	l.next = next
	old := l.conn
	l.conn = conn
	l.sig.swap(conn)
	l.mu.Unlock()
	if old != nil && old != conn {
		old.CloseNow() // the reader's read there ends; it goes on with conn
	}
	c.caller.set(src) // the caller's network now (icefilter.go)
	c.log.Info("the client resumed the call on a new socket", "src", src)
	l.sig.send(Message{Type: MsgResumed, CallID: c.ID})
	// The call's reader reads this socket now; this handler closes it when
	// the call ends, unless another socket took over first.
	select {
	case <-c.done:
		closeAfterCall(conn, l)
	case <-next:
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
