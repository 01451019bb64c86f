package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// sipwsConn is a SIP user agent on the box's /v1/sip written from RFC
// 7118 and RFC 3261 by hand, to send what JsSIP and SIP.js never would.
type sipwsConn struct {
	t    *testing.T
	c    *websocket.Conn
	user string
	seq  int
}

func dialSIPWS(t *testing.T, url, user string) *sipwsConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"sip"}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &sipwsConn{t: t, c: c, user: user}
}

// invite sends an INVITE for target (auth may be ""), with body as SDP.
func (s *sipwsConn) invite(target, auth, body string) *sip.Response {
	s.seq++
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE %s SIP/2.0\r\nVia: SIP/2.0/WSS ua.invalid;branch=z9hG4bK%d\r\nMax-Forwards: 70\r\n", target, s.seq)
	fmt.Fprintf(&b, "To: <%s>\r\nFrom: <sip:%s@edgebox>;tag=ua1\r\nCall-ID: call-%s\r\nCSeq: %d INVITE\r\n", target, s.user, s.user, s.seq)
	fmt.Fprintf(&b, "Contact: <sip:%s@ua.invalid;transport=ws>\r\n", s.user)
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return s.roundTrip(b.String())
}

// roundTrip sends one message and returns the first final answer.
func (s *sipwsConn) roundTrip(msg string) *sip.Response {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		s.t.Fatal(err)
	}
	for {
		_, data, err := s.c.Read(ctx)
		if err != nil {
			s.t.Fatalf("no answer: %v", err)
		}
		m, err := sip.ParseMessage(data)
		if err != nil {
			s.t.Fatalf("the box sent unparsable SIP: %v\n%s", err, data)
		}
		if res, ok := m.(*sip.Response); ok && res.StatusCode >= 200 {
			return res
		}
	}
}

// digestFor answers res's challenge with password.
func digestFor(t *testing.T, res *sip.Response, user, password, uri string) string {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		t.Fatalf("no challenge in %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func warning(res *sip.Response) string {
	if h := res.GetHeader("Warning"); h != nil {
		return h.Value()
	}
	return ""
}

// closeReason waits for the box to close the socket and returns how.
func closeReason(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			t.Fatalf("socket not closed with a reason: %v", err)
		}
	}
}

const sipwsOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n"

// TestSIPWSRefusals: what the SIP-over-WebSocket endpoint refuses, and how
// it says so: a socket without the "sip" subprotocol; an INVITE without
// credentials is challenged; a wrong password, an unknown user, a token
// for another destination (which burns it) and an INVITE without SDP are
// refused with the reason in a Warning; OPTIONS answers what the box
// takes; garbage closes the socket as the JSON protocol does; a socket that
// never sends an INVITE is closed with "auth timeout".
func TestSIPWSRefusals(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	const target = "sip:agent@127.0.0.1"

	// No subprotocol: closed with 1002 and the reason.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	plain, _, err := websocket.Dial(ctx, res.SIPURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := closeReason(t, plain); code != websocket.StatusProtocolError || !strings.Contains(reason, `"sip"`) {
		t.Errorf("no subprotocol: closed %d %q, want 1002 naming the subprotocol", code, reason)
	}

	ua := dialSIPWS(t, res.SIPURL, res.SIPUser)
	if r := ua.roundTrip("OPTIONS sip:edgebox SIP/2.0\r\nVia: SIP/2.0/WSS ua.invalid;branch=z9hG4bKo1\r\nTo: <sip:edgebox>\r\nFrom: <sip:x@edgebox>;tag=1\r\nCall-ID: o1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"); r.StatusCode != 200 || r.GetHeader("Allow") == nil || !strings.Contains(r.GetHeader("Allow").Value(), "INVITE") {
		t.Errorf("OPTIONS: %d %v", r.StatusCode, r.GetHeader("Allow"))
	}
	chal := ua.invite(target, "", sipwsOffer)
	if chal.StatusCode != 401 {
		t.Fatalf("INVITE without credentials: %d, want a 401 challenge", chal.StatusCode)
	}
	if r := ua.invite(target, digestFor(t, chal, res.SIPUser, "not-the-token", target), sipwsOffer); r.StatusCode != 403 || !strings.Contains(warning(r), "the password is the call token") {
		t.Errorf("wrong password: %d %q", r.StatusCode, warning(r))
	}
	if r := ua.invite(target, digestFor(t, chal, "t00000000000000000000", res.Token, target), sipwsOffer); r.StatusCode != 403 || !strings.Contains(warning(r), "ask the portal for a new one") {
		t.Errorf("unknown user: %d %q", r.StatusCode, warning(r))
	}
	if r := ua.invite(target, digestFor(t, chal, res.SIPUser, res.Token, target), ""); r.StatusCode != 488 {
		t.Errorf("INVITE without SDP: %d, want 488", r.StatusCode)
	}
	other := "sip:boss@127.0.0.1"
	if r := ua.invite(other, digestFor(t, chal, res.SIPUser, res.Token, other), sipwsOffer); r.StatusCode != 403 || !strings.Contains(warning(r), "different caller or destination") {
		t.Errorf("token for another destination: %d %q", r.StatusCode, warning(r))
	}
	if r := ua.invite(target, digestFor(t, chal, res.SIPUser, res.Token, target), sipwsOffer); r.StatusCode != 403 {
		t.Errorf("the token was not burnt by the mismatch: %d", r.StatusCode)
	}

	// Garbage: closed after as many malformed messages as the JSON protocol takes.
	junk := dialSIPWS(t, res.SIPURL, "x")
	for i := 0; i < 25; i++ {
		if err := junk.c.Write(ctx, websocket.MessageText, []byte("not sip at all")); err != nil {
			break
		}
	}
	if code, reason := closeReason(t, junk.c); code != websocket.StatusPolicyViolation || reason != gateway.CloseMalformed {
		t.Errorf("garbage: closed %d %q", code, reason)
	}

	// Silence: closed with auth timeout.
	idle := dialSIPWS(t, res.SIPURL, "x")
	if code, reason := closeReason(t, idle.c); code != websocket.StatusPolicyViolation || reason != gateway.CloseAuthTimeout {
		t.Errorf("no INVITE: closed %d %q", code, reason)
	}

}
