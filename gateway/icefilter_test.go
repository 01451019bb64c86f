package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"

	"github.com/pion/webrtc/v4"
)

// Third review, left then closed: on the pion stack with full ICE (a box
// without a public address) the box sent STUN connectivity checks to
// whatever candidates a caller gave. Here a crafted caller offers, and
// trickles before and after its offer, candidates naming a UDP service
// on the box's loopback, then restarts ICE naming another; a SIP-WS app's
// INVITE names a third: before the filter each service received the
// box's Binding requests; now nothing arrives, while a normal call on the
// same box still connects and carries audio (its own loopback candidates
// are dropped too: it connects through the checks its client sends).
// The stacks with a public address (lean, and pion in ICE-lite) send no
// checks at all: checked the same way.
func TestSecICECandidatesNotIntoTheBox(t *testing.T) {
	t.Parallel()
	forEachStack(t, func(t *testing.T) { testICECandidatesNotIntoTheBox(t, true) })
	t.Run("stack=pion/full-ice", func(t *testing.T) { testICECandidatesNotIntoTheBox(t, false) })
}

func testICECandidatesNotIntoTheBox(t *testing.T, public bool) {
	victim := countSTUN(t, "", "127.0.0.1:0")
	port := victim.port()
	// a second service, named only by an ICE restart's offer, and a third
	// named by a SIP-over-WebSocket app's INVITE
	restartVictim := countSTUN(t, "", "127.0.0.1:0")
	restartPort := restartVictim.port()
	sipwsVictim := countSTUN(t, "", "127.0.0.1:0")

	uas := startSIPp(t, "uas_echo", 3)
	cfg := testConfig(t, uas.addr())
	if !public {
		cfg.Media.PublicAddress = "" // full ICE on pion
		cfg.Media.Stack = config.StackPion
	}
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// the crafted caller
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	evil, err := client.Connect(ctx, wsURL, tok, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	trickle := func(typ string) {
		c := fmt.Sprintf("candidate:7 1 udp 2122260223 127.0.0.1 %d typ %s", port, typ)
		if typ != "host" {
			c += " raddr 0.0.0.0 rport 0"
		}
		if err := evil.Send(ctx, gateway.Message{Type: gateway.MsgCandidate, Candidate: &gateway.Candidate{Candidate: c, SDPMid: ptr("0")}}); err != nil {
			t.Fatal(err)
		}
	}
	trickle("host") // before the offer: kept until the browser leg exists
	offer := craftedOffer(t, port)
	if err := evil.Send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	trickle("srflx")
	waitFor(t, 20*time.Second, "the crafted call answered by the PBX", func() bool {
		for _, ci := range svc.Snapshot() {
			if ci.ID == evil.ID && ci.State == gateway.StateAnswered {
				return true
			}
		}
		return false
	})
	trickle("relay") // after the answer
	// an ICE restart (new credentials) naming the second service
	if err := evil.Send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: iceRestartOf(offer, restartPort)}); err != nil {
		t.Fatal(err)
	}

	// a SIP-over-WebSocket app's INVITE: its candidates are in the SDP
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	const target = "sip:agent@127.0.0.1"
	ua := dialSIPWS(t, res.SIPURL, res.SIPUser)
	sipwsSDP := craftedOfferWith(t, []string{fmt.Sprintf("candidate:1 1 udp 2122260223 127.0.0.1 %d typ host", sipwsVictim.port())})
	chal := ua.invite(target, "", sipwsSDP)
	if r := ua.invite(target, digestFor(t, chal, res.SIPUser, res.Token, target), sipwsSDP); r.StatusCode != 200 {
		t.Fatalf("SIP-WS INVITE: %d %s", r.StatusCode, warning(r))
	}

	// a normal call on the same box
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 25)

	// pion checks a new candidate within milliseconds and repeats every
	// 200 ms: 3 s more without a packet is silence, not luck
	time.Sleep(3 * time.Second)
	if n := victim.n.Load(); n > 0 {
		t.Errorf("the box sent %d STUN messages to 127.0.0.1:%d, the loopback service the crafted caller's candidates named", n, port)
	}
	if n := restartVictim.n.Load(); n > 0 {
		t.Errorf("the box sent %d STUN messages to 127.0.0.1:%d, named by the crafted caller's ICE restart", n, restartPort)
	}
	if n := sipwsVictim.n.Load(); n > 0 {
		t.Errorf("the box sent %d STUN messages to 127.0.0.1:%d, named by a SIP-WS app's INVITE", n, sipwsVictim.port())
	}
}

// craftedOffer is a valid audio offer (pion's) whose only candidates
// name 127.0.0.1:port.
func craftedOffer(t *testing.T, port int) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	lines := fmt.Sprintf("a=candidate:1 1 udp 2122260223 127.0.0.1 %d typ host\r\n", port) +
		fmt.Sprintf("a=candidate:3 1 udp 1686052607 ::ffff:127.0.0.1 %d typ srflx raddr 0.0.0.0 rport 0\r\n", port)
	sdp := offer.SDP
	if !strings.HasSuffix(sdp, "\r\n") {
		sdp += "\r\n"
	}
	return sdp + lines
}

// iceRestartOf is offer with new ICE credentials (an ICE restart) and one
// candidate, 127.0.0.1:port.
func iceRestartOf(offer string, port int) string {
	var out []string
	for _, l := range strings.Split(offer, "\r\n") {
		switch {
		case strings.HasPrefix(l, "a=candidate:"):
			continue
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			l = "a=ice-ufrag:restart1"
		case strings.HasPrefix(l, "a=ice-pwd:"):
			l = "a=ice-pwd:restartrestartrestartrestart"
		case l == "":
			continue
		}
		out = append(out, l)
	}
	out = append(out, fmt.Sprintf("a=candidate:9 1 udp 2122260223 127.0.0.1 %d typ host", port))
	return strings.Join(out, "\r\n") + "\r\n"
}

func ptr[T any](v T) *T { return &v }
