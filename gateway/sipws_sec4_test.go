package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"edgebox/gateway"

	"github.com/coder/websocket"
	"github.com/emiago/sipgo/sip"
)

// TestSec4SIPWSGuessesBoundedOnOneSocket: the JSON protocol takes one
// token per socket, so the refusal limiter, asked when a socket opens,
// bounds guessing. SIP over WebSocket answers a wrong digest with 403
// and keeps the socket: every refusal was counted, but a source already
// blocked went on guessing on the socket it had, as fast as it liked.
// Once the source is blocked, the socket must be closed.
func TestSec4SIPWSGuessesBoundedOnOneSocket(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, "127.0.0.1:9")
	cfg.Portal.RatePerMinute = 60 // a burst of 10 refusals
	svc := startGateway(t, cfg)
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	const target = "sip:agent@127.0.0.1"
	ua := dialSIPWS(t, res.SIPURL, res.SIPUser)
	chal := ua.invite(target, "", sipwsOffer)
	if chal.StatusCode != 401 {
		t.Fatalf("INVITE without credentials: %d, want 401", chal.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	refused := 0
	for i := range 60 {
		auth := digestFor(t, chal, res.SIPUser, fmt.Sprintf("guess-%d", i), target)
		msg := fmt.Sprintf("INVITE %s SIP/2.0\r\nVia: SIP/2.0/WSS ua.invalid;branch=z9hG4bKg%d\r\nMax-Forwards: 70\r\n"+
			"To: <%s>\r\nFrom: <sip:%s@edgebox>;tag=ua1\r\nCall-ID: guess\r\nCSeq: %d INVITE\r\n"+
			"Authorization: %s\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
			target, i, target, res.SIPUser, i+2, auth, len(sipwsOffer), sipwsOffer)
		if err := ua.c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			break
		}
		_, data, err := ua.c.Read(ctx)
		if err != nil {
			break // closed: what is wanted
		}
		if m, err := sip.ParseMessage(data); err == nil {
			if r, ok := m.(*sip.Response); ok && r.StatusCode == 403 {
				refused++
			}
		}
	}
	if refused >= 30 {
		t.Fatalf("%d wrong digests were checked on one socket, with the limiter's burst at 10", refused)
	}
}
