package gateway

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// SIP over WebSocket (RFC 7118), for portal apps built on JsSIP or SIP.js.
// The app takes the same one-time token as the JSON protocol
// (signaling.go): its SIP user is the token's SIPUser (from POST /v1/calls)
// and its digest password is the token itself, so no long-lived SIP
// password is ever in a page. One connection carries one call; that call
// is the same `call` as the JSON protocol's (same media path, limits,
// destination rules), with sipwsLeg translating between SIP and Messages.

const (
	// sipRealm is the digest realm of the per-token users.
	sipRealm = "edgebox"
	// sipwsLinger is how long a connection stays after its call ended, so
	// the BYE and its answer still pass.
	sipwsLinger = 3 * time.Second
	// sipwsAllow is what the box takes over SIP-WS.
	sipwsAllow = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS, REGISTER"
)

// sipUserOf is the SIP user name of a token, from its SHA-256 (never the
// token itself: the name travels in clear inside the TLS session and logs).
func sipUserOf(h [32]byte) string { return "t" + hex.EncodeToString(h[:10]) }

// sipHA1 is the digest's A1 hash of user with the token as password.
func sipHA1(user, token string) string {
	sum := md5.Sum([]byte(user + ":" + sipRealm + ":" + token))
	return hex.EncodeToString(sum[:])
}

// sameDestination says whether the Request-URI target of an INVITE names
// the destination a token was issued for: the same user@host for a SIP URI
// destination (parameters ignored), the same user for a bare queue name.
func sameDestination(target, dest string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		s = strings.TrimPrefix(strings.TrimPrefix(s, "sips:"), "sip:")
		s, _, _ = strings.Cut(s, ";")
		s, _, _ = strings.Cut(s, "?")
		return strings.ToLower(s)
	}
	t, d := norm(target), norm(dest)
	if !strings.Contains(d, "@") {
		t, _, _ = strings.Cut(t, "@")
	}
	return t != "" && t == d
}

// handleSIPWS upgrades GET /v1/sip (subprotocol "sip") and serves one
// SIP user agent.
func (s *Service) handleSIPWS(w http.ResponseWriter, r *http.Request) {
	src := remoteIP(r)
	if s.portalLimit.blocked(src) {
		s.metrics.tokenRefusals.WithLabelValues("rate_limited").Inc()
		w.Header().Set("Retry-After", "60")
		http.Error(w, "too many refused attempts from this address: wait a minute, then ask the portal for a new token", http.StatusTooManyRequests)
		return
	}
	if !s.acquirePending(w, src) {
		return
	}
	// Any origin, as for /v1/signal: the token authorises, not the page.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true, Subprotocols: []string{"sip"}})
	if err != nil {
		s.pending.release(src)
		return
	}
	defer conn.CloseNow()
	if conn.Subprotocol() != "sip" {
		s.pending.release(src)
		conn.Close(websocket.StatusProtocolError, "ask for the WebSocket subprotocol \"sip\" (RFC 7118)")
		return
	}
	conn.SetReadLimit(maxMessageSize)
	leg := &sipwsLeg{svc: s, conn: conn, src: src, nonce: randHex(16), tag: randHex(8), pending: true,
		waiting: map[uint32]chan *sip.Response{}}
	leg.serve(r.Context())
	leg.releasePending()
}

// sipwsLeg is one SIP-over-WebSocket connection and the call on it. Its
// serve goroutine reads; the call's goroutines send through send().
type sipwsLeg struct {
	svc   *Service
	conn  *websocket.Conn
	src   netip.Addr
	nonce string // this connection's digest nonce
	tag   string // the box's dialog tag

	wmu sync.Mutex // serialises writes to conn

	mu        sync.Mutex
	pending   bool  // still counted in svc.pending
	call      *call // nil until an INVITE was authorised
	invite    *sip.Request
	cseq      uint32 // the box's CSeq in the dialog
	sdp       string // the box's answer, waiting for its candidates
	sdpAt     time.Time
	cands     []Candidate
	candsDone bool
	want      int  // 183 or 200 once the call says so
	sent      int  // highest response with SDP sent
	final     bool // a final answer to the INVITE went out
	byeIn     bool // the app hung up
	ended     bool
	waiting   map[uint32]chan *sip.Response // the box's requests by CSeq
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (l *sipwsLeg) releasePending() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending {
		l.pending = false
		l.svc.pending.release(l.src)
	}
}

// write sends one SIP message as one text frame.
func (l *sipwsLeg) write(m sip.Message) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	return l.conn.Write(ctx, websocket.MessageText, []byte(m.String()))
}

// respond answers req; a To tag is the box's for every answer but 100.
func (l *sipwsLeg) respond(req *sip.Request, code int, reason string, body []byte, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, body)
	if to := res.To(); to != nil && code != 100 && req.To() != nil && !req.To().Params.Has("tag") {
		to.Params.Add("tag", l.tag)
	}
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	l.write(res)
}

// serve reads the app's SIP messages until it leaves, the call is over,
// or it sends no INVITE within authTimeout.
func (l *sipwsLeg) serve(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	authTimer := time.AfterFunc(authTimeout, func() {
		l.mu.Lock()
		started := l.call != nil
		l.mu.Unlock()
		if !started {
			l.svc.metrics.tokenRefusals.WithLabelValues("auth_timeout").Inc()
			l.conn.Close(websocket.StatusPolicyViolation, CloseAuthTimeout)
		}
	})
	defer authTimer.Stop()
	defer l.clientGone()
	bad := 0
	for {
		_, data, err := l.conn.Read(ctx)
		if err != nil {
			return
		}
		msg, err := sip.ParseMessage(data)
		if err != nil {
			// Nothing to answer an unparsable message with.
			if bad++; bad >= maxBadMessages {
				l.conn.Close(websocket.StatusPolicyViolation, CloseMalformed)
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *sip.Response:
			l.takeResponse(m)
		case *sip.Request:
			if l.request(ctx, m) {
				return
			}
		}
	}
}

// clientGone ends the call when the app's socket went away.
func (l *sipwsLeg) clientGone() {
	l.mu.Lock()
	c := l.call
	l.mu.Unlock()
	if c != nil {
		close(c.in)
		<-c.done
	}
}

// toCall hands the call a message unless it is over.
func (l *sipwsLeg) toCall(m Message) {
	l.mu.Lock()
	c := l.call
	l.mu.Unlock()
	if c == nil {
		return
	}
	select {
	case c.in <- &m:
	case <-c.done:
	}
}

// request handles one request from the app; true ends the connection.
func (l *sipwsLeg) request(ctx context.Context, req *sip.Request) bool {
	l.mu.Lock()
	c, inv := l.call, l.invite
	l.mu.Unlock()
	inDialog := inv != nil && req.CallID() != nil && inv.CallID() != nil && req.CallID().Value() == inv.CallID().Value()
	switch {
	case req.IsAck():
		return false
	case req.Method == sip.OPTIONS:
		l.respond(req, 200, "OK", nil, sip.NewHeader("Allow", sipwsAllow), sip.NewHeader("Accept", "application/sdp"))
	case req.Method == sip.REGISTER:
		l.register(req)
	case req.IsInvite() && c == nil:
		l.invite1(ctx, req)
	case req.IsInvite() && inDialog:
		// Hold, codec changes and ICE restarts from the app are not taken
		// yet: the call goes on as it was.
		l.respond(req, 488, "Not Acceptable Here", nil, sip.NewHeader("Warning", `399 edgebox "re-INVITE from the app is not supported: the call goes on unchanged"`))
	case req.IsInvite():
		l.respond(req, 486, "Busy Here", nil, sip.NewHeader("Warning", `399 edgebox "one call per connection and token"`))
	case req.IsCancel() && inDialog:
		l.respond(req, 200, "OK", nil)
		l.mu.Lock()
		cancelled := !l.final
		l.final = true
		l.mu.Unlock()
		if cancelled {
			l.respond(inv, 487, "Request Terminated", nil)
		}
		l.toCall(Message{Type: MsgHangup})
	case req.Method == sip.BYE && inDialog:
		l.mu.Lock()
		l.byeIn = true
		l.mu.Unlock()
		l.respond(req, 200, "OK", nil)
		l.toCall(Message{Type: MsgHangup})
	case req.Method == sip.INFO && inDialog:
		digits, err := dtmfFromINFO(req)
		if err != nil {
			l.respond(req, 415, "Unsupported Media Type", nil, sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
			return false
		}
		l.respond(req, 200, "OK", nil)
		l.toCall(Message{Type: MsgDTMF, Digits: digits})
	case inDialog || req.Method == sip.BYE || req.IsCancel() || req.Method == sip.INFO:
		l.respond(req, 481, "Call/Transaction Does Not Exist", nil)
	default:
		l.respond(req, 405, "Method Not Allowed", nil, sip.NewHeader("Allow", sipwsAllow))
	}
	return false
}

// checkDigest checks the request's digest against the token's user; it
// answers the request itself (401 challenge or 403) and returns false when
// it does not hold.
func (l *sipwsLeg) checkDigest(req *sip.Request) (callGrant, string, bool) {
	// The socket stays open after a refusal (SIP answers 403 and goes
	// on), so the refusal limiter is asked here too, not only when the
	// socket opened: a source blocked meanwhile must not go on guessing.
	if l.svc.portalLimit.blocked(l.src) {
		l.svc.metrics.tokenRefusals.WithLabelValues("rate_limited").Inc()
		l.respond(req, 403, "Forbidden", nil, sip.NewHeader("Warning", `399 edgebox "too many refused attempts from this address: wait a minute, then ask the portal for a new token"`))
		l.conn.Close(websocket.StatusPolicyViolation, CloseRateLimited)
		return callGrant{}, "", false
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		h = req.GetHeader("Proxy-Authorization")
	}
	if h == nil {
		chal := digest.Challenge{Realm: sipRealm, Nonce: l.nonce, Algorithm: "MD5", QOP: []string{"auth"}}
		l.respond(req, 401, "Unauthorized", nil, sip.NewHeader("WWW-Authenticate", chal.String()))
		return callGrant{}, "", false
	}
	refuse := func(why string) (callGrant, string, bool) {
		l.svc.metrics.tokenRefusals.WithLabelValues("unknown").Inc()
		l.svc.portalLimit.allow(l.src)
		l.svc.log.Info("SIP-WS refused", "src", l.src, "reason", why)
		l.respond(req, 403, "Forbidden", nil, sip.NewHeader("Warning", `399 edgebox "`+why+`"`))
		return callGrant{}, "", false
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return refuse("unreadable digest credentials")
	}
	if cred.Nonce != l.nonce || cred.Realm != sipRealm {
		return refuse("digest for another nonce or realm: answer this connection's challenge")
	}
	g, ok := l.svc.tokens.sipGrant(cred.Username)
	if !ok {
		return refuse("token unknown, used or expired: ask the portal for a new one")
	}
	want, err := digest.Digest(&digest.Challenge{Realm: sipRealm, Nonce: l.nonce, Algorithm: cred.Algorithm, QOP: qopOf(cred)},
		digest.Options{Method: string(req.Method), URI: cred.URI, Username: cred.Username, A1: g.sipHA1, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		return refuse("wrong digest: the password is the call token")
	}
	return g, cred.Username, true
}

func qopOf(c *digest.Credentials) []string {
	if c.QOP == "" {
		return nil
	}
	return []string{c.QOP}
}

// register answers a REGISTER of a token's user: JsSIP and SIP.js register
// by default. It binds nothing (the token can only call out) and does not
// spend the token.
func (l *sipwsLeg) register(req *sip.Request) {
	if _, _, ok := l.checkDigest(req); !ok {
		return
	}
	var hdrs []sip.Header
	if ct := req.Contact(); ct != nil {
		hdrs = append(hdrs, sip.NewHeader("Contact", ct.Value()+";expires=600"))
	}
	l.respond(req, 200, "OK", nil, hdrs...)
}

// invite1 takes the app's first INVITE: digest, room, token, then the
// call with the INVITE's SDP as the offer.
func (l *sipwsLeg) invite1(ctx context.Context, req *sip.Request) {
	if ct := req.ContentType(); len(req.Body()) == 0 || ct == nil || !strings.EqualFold(ct.Value(), "application/sdp") {
		l.respond(req, 488, "Not Acceptable Here", nil, sip.NewHeader("Warning", `399 edgebox "the INVITE must carry the SDP offer"`))
		return
	}
	_, user, ok := l.checkDigest(req)
	if !ok {
		return
	}
	// At the limit the token is not spent: the app may retry with it.
	if err := l.svc.callRoom(); err != nil {
		why := "busy"
		if errors.Is(err, errDraining) {
			why = "draining"
		}
		l.svc.metrics.tokenRefusals.WithLabelValues(why).Inc()
		l.respond(req, 503, "Service Unavailable", nil, sip.NewHeader("Retry-After", "10"), sip.NewHeader("Warning", `399 edgebox "`+err.Error()+`"`))
		return
	}
	grant, err := l.svc.tokens.redeemSIP(user, req.Recipient.Addr())
	if err != nil {
		reason := "unknown"
		switch {
		case errors.Is(err, errTokenExpired):
			reason = "expired"
		case errors.Is(err, errTokenMismatch):
			reason = "mismatch"
		}
		l.svc.metrics.tokenRefusals.WithLabelValues(reason).Inc()
		l.svc.portalLimit.allow(l.src)
		l.respond(req, 403, "Forbidden", nil, sip.NewHeader("Warning", `399 edgebox "`+err.Error()+`"`))
		return
	}
	c, err := l.svc.startCall(grant, l)
	if err != nil {
		code, reason := 503, "Service Unavailable"
		if errors.Is(err, errBusy) {
			code, reason = 486, "Busy Here"
		}
		l.respond(req, code, reason, nil, sip.NewHeader("Warning", `399 edgebox "`+err.Error()+`"`))
		return
	}
	l.releasePending()
	c.caller.set(l.src) // whose candidates may be on its network (icefilter.go)
	l.mu.Lock()
	l.call, l.invite = c, req
	l.mu.Unlock()
	l.svc.log.Info("call authorised", "call", c.ID, "from", grant.From, "to", grant.Destination, "key", grant.KeyName, "src", l.src, "via", "sip-ws")
	l.respond(req, 100, "Trying", nil)
	go func() {
		c.run(l.svc.ctx)
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
		// The BYE (or final answer) went out in send(); then the socket
		// closes, as the JSON protocol's does after a call.
		time.AfterFunc(sipwsLinger, func() { l.conn.Close(websocket.StatusNormalClosure, CloseCallEnded) })
	}()
	select {
	case c.in <- &Message{Type: MsgOffer, SDP: string(req.Body())}:
	case <-c.done:
	case <-ctx.Done():
	}
}
