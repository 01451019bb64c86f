package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Limits of the signaling connection.
const (
	authTimeout    = 10 * time.Second
	maxMessageSize = 64 << 10
	maxBadMessages = 20
	sendTimeout    = 5 * time.Second
	// sockets not yet authorised, per source address and in all: each
	// holds a goroutine and buffers for up to authTimeout
	maxPendingPerSource = 8 // per address; per /64 for IPv6
	maxPendingTotal     = 1024
)

// pendingSockets counts signaling sockets that have not shown a token yet.
type pendingSockets struct {
	mu    sync.Mutex
	bySrc map[netip.Addr]int
	total int
}

// sourceKey is what the per-source cap counts by: the address, or for
// IPv6 its /64 (one subscriber's share).
func sourceKey(src netip.Addr) netip.Addr {
	if src.Is6() && !src.Is4In6() {
		p, _ := src.Prefix(64)
		return p.Addr()
	}
	return src
}

// acquire reserves a place for src, or says why there is none.
func (p *pendingSockets) acquire(src netip.Addr) error {
	src = sourceKey(src)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bySrc == nil {
		p.bySrc = map[netip.Addr]int{}
	}
	if p.bySrc[src] >= maxPendingPerSource {
		return fmt.Errorf("too many connections without a token from this address (at most %d): finish or close them first", maxPendingPerSource)
	}
	if p.total >= maxPendingTotal {
		return errors.New("too many connections without a token: retry in a few seconds")
	}
	p.bySrc[src]++
	p.total++
	return nil
}

func (p *pendingSockets) release(src netip.Addr) {
	src = sourceKey(src)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bySrc[src]--; p.bySrc[src] <= 0 {
		delete(p.bySrc, src)
	}
	p.total--
}

// wsSignaler writes messages to one client; pion callbacks and the call's
// goroutine write concurrently, hence the lock.
type wsSignaler struct {
	mu   sync.Mutex
	conn *websocket.Conn
	// raw is the connection under conn (smallWSBuffers), nil when not
	// known: a write deadline on it bounds each send
	raw net.Conn
}

// swap makes the signaler write to conn (a resumed call's new socket) and
// returns the socket it wrote to before. Its sends are bounded by a
// context from then on (its raw connection is not known here).
func (w *wsSignaler) swap(conn *websocket.Conn) *websocket.Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.conn
	w.conn, w.raw = conn, nil
	return old
}

// send writes m within sendTimeout; a client that does not take it in
// that time loses its socket. With the raw connection known, the bound is
// a write deadline on it: a context with a deadline makes the WebSocket
// library arm and disarm a context.AfterFunc per frame, besides the
// context's own timer (about ten allocations per message, six messages
// per call set-up).
func (w *wsSignaler) send(m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw == nil {
		ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
		defer cancel()
		return w.conn.Write(ctx, websocket.MessageText, b)
	}
	w.raw.SetWriteDeadline(time.Now().Add(sendTimeout))
	err = w.conn.Write(context.Background(), websocket.MessageText, b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// as the context's expiry would: a frame may be half written
		w.conn.CloseNow()
	}
	// the library's own frames (pongs, the close) are not bound by it
	w.raw.SetWriteDeadline(time.Time{})
	return err
}

// decodeMessage parses one client message strictly.
func decodeMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > maxMessageSize {
		return m, errors.New("message larger than 64 KiB")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a JSON message: %w", err)
	}
	switch m.Type {
	case MsgAuth:
		if m.Token == "" {
			return m, errors.New("auth needs a token")
		}
	case MsgOffer, MsgAnswer:
		if m.SDP == "" {
			return m, fmt.Errorf("%s needs sdp", m.Type)
		}
	case MsgCandidate, MsgHangup, MsgPing:
	case MsgResume:
		if m.CallID == "" || m.Resume == "" {
			return m, errors.New("resume needs call_id and resume")
		}
	case MsgDTMF:
		if err := validDTMF(m.Digits); err != nil {
			return m, err
		}
	case "":
		return m, errors.New("message has no type")
	default:
		return m, fmt.Errorf("unknown message type %q", m.Type)
	}
	return m, nil
}

func (s *Service) handleSignal(w http.ResponseWriter, r *http.Request) {
	src := remoteIP(r)
	if s.portalLimit.blocked(src) {
		s.metrics.tokenRefusals.WithLabelValues("rate_limited").Inc()
		// Said over the socket: a browser sees no HTTP status of a
		// refused upgrade, only "connection failed".
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		sig := &wsSignaler{conn: conn}
		sig.send(Message{Type: MsgError, Code: CodeRateLimited, Error: "too many refused attempts from this address: wait a minute, then ask the portal for a new token"})
		conn.Close(websocket.StatusPolicyViolation, CloseRateLimited)
		return
	}
	if !s.acquirePending(w, src) {
		return
	}
	pending := true
	defer func() {
		if pending {
			s.pending.release(src)
		}
	}()
	// Any origin: the one-time token, not the page's origin, is what
	// authorises a call (apps have no origin at all). Small buffers: the
	// socket lives as long as the call (smallWSBuffers).
	bw := smallWSBuffers(w)
	conn, err := websocket.Accept(bw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	conn.SetReadLimit(maxMessageSize)
	handedOff := false // runCall closes the socket
	defer func() {
		if !handedOff {
			conn.CloseNow()
		}
	}()
	sig := &wsSignaler{conn: conn, raw: bw.conn}

	data, timedOut, err := readFirst(conn, bw.conn, r.Context(), authTimeout)
	if timedOut {
		s.metrics.tokenRefusals.WithLabelValues("auth_timeout").Inc()
		s.portalLimit.allow(src)
		sig.send(Message{Type: MsgError, Code: CodeAuthTimeout, Error: fmt.Sprintf("no auth message within %d s: connect again and send auth first", int(authTimeout/time.Second))})
		conn.Close(websocket.StatusPolicyViolation, CloseAuthTimeout)
		return
	}
	if err != nil {
		s.metrics.tokenRefusals.WithLabelValues("malformed").Inc()
		s.portalLimit.allow(src)
		return // gone
	}
	m, err := decodeMessage(data)
	if err == nil && m.Type == MsgResume {
		s.pending.release(src)
		pending = false
		s.resume(r, conn, sig, m)
		return
	}
	if err == nil && m.Type != MsgAuth {
		err = fmt.Errorf("first message must be auth, not %q", m.Type)
	}
	if err != nil {
		s.metrics.tokenRefusals.WithLabelValues("malformed").Inc()
		s.portalLimit.allow(src)
		sig.send(Message{Type: MsgError, Code: CodeBadMessage, Error: err.Error()})
		conn.Close(websocket.StatusPolicyViolation, CloseBadAuth)
		return
	}
	// At the limit the token is not spent: the client may retry with it.
	if err := s.callRoom(); err != nil {
		code, reason, why := CodeBusy, CloseBusy, "busy"
		if errors.Is(err, errDraining) {
			code, reason, why = CodeUnavailable, CloseUnavailable, "draining"
		}
		s.metrics.tokenRefusals.WithLabelValues(why).Inc()
		sig.send(Message{Type: MsgError, Code: code, Error: err.Error()})
		conn.Close(websocket.StatusTryAgainLater, reason)
		return
	}
	grant, err := s.tokens.redeem(m.Token, m.From, m.To)
	if err != nil {
		reason := "unknown"
		switch {
		case errors.Is(err, errTokenExpired):
			reason = "expired"
		case errors.Is(err, errTokenMismatch):
			reason = "mismatch"
		}
		s.metrics.tokenRefusals.WithLabelValues(reason).Inc()
		s.portalLimit.allow(src)
		s.log.Info("signaling refused", "src", remoteIP(r), "reason", reason)
		sig.send(Message{Type: MsgError, Code: CodeBadToken, Error: err.Error()})
		conn.Close(websocket.StatusPolicyViolation, CloseBadToken)
		return
	}
	if grant.Receive {
		// a callback token: the page waits for the PBX's call (callback_wait.go)
		s.pending.release(src)
		pending = false
		s.waitCallback(conn, sig, grant, r)
		return
	}
	call, err := s.startCall(grant, sig)
	if err != nil {
		code, reason := CodeUnavailable, CloseUnavailable
		if errors.Is(err, errBusy) {
			code, reason = CodeBusy, CloseBusy
		}
		sig.send(Message{Type: MsgError, Code: code, Error: err.Error()})
		conn.Close(websocket.StatusTryAgainLater, reason)
		return
	}
	call.caller.set(src) // whose candidates may be on its network (icefilter.go)
	s.pending.release(src)
	pending = false
	s.log.Info("call authorised", "call", call.ID, "from", grant.From, "to", grant.Destination, "key", grant.KeyName, "src", remoteIP(r))
	link, secret := newClientLink(conn, sig, m.Resumable)
	s.mu.Lock()
	call.link = link
	s.mu.Unlock()
	cfg := s.Config()
	sig.send(Message{Type: MsgAuthorized, CallID: call.ID, ICEServers: s.clientICEServers(cfg, grant.TURNTag, r), Resume: secret})

	go s.readClient(call, link)
	handedOff = true
	go s.runCall(call, conn, link)
}

// runCall is an authorised call's run loop, on a goroutine of its own:
// the HTTP handler's goroutine ends after the upgrade instead (net/http
// leaves a hijacked connection alone), so an established call does not
// keep net/http's frames and handleSignal's 3 KB one under its loop. Its
// stack then stays under a quarter of 8 KB, and the GC shrinks it: an
// idle call's two goroutines held 16 KB of stack each before
// (TestCallFootprint reports the stack per call).
func (s *Service) runCall(call *call, conn *websocket.Conn, link *clientLink) {
	defer conn.CloseNow()
	call.run(s.ctx)
	closeAfterCall(conn, link)
}

// acquirePending counts a socket from src that has not authenticated yet,
// or refuses the upgrade with 429 when src has too many of them.
func (s *Service) acquirePending(w http.ResponseWriter, src netip.Addr) bool {
	if err := s.pending.acquire(src); err != nil {
		s.metrics.tokenRefusals.WithLabelValues("too_many_pending").Inc()
		w.Header().Set("Retry-After", "10")
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return false
	}
	return true
}

// readFirst reads the first message within d. A read whose context
// expires closes the socket at once, so the wait is a read deadline on
// the connection under it (raw) instead: the box can still say
// auth_timeout before closing. (It was a goroutine per socket reading
// while this one waited for it or a timer: one more goroutine, timer and
// hand-over per call set-up.)
func readFirst(conn *websocket.Conn, raw net.Conn, ctx context.Context, d time.Duration) (data []byte, timedOut bool, err error) {
	raw.SetReadDeadline(time.Now().Add(d))
	_, data, err = conn.Read(ctx)
	// cleared either way: the close handshake after a timeout reads too
	raw.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
		return nil, true, nil
	}
	return data, false, err
}
