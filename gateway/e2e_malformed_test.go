package gateway_test

import (
	"context"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

func TestMalformedInputDoesNotHarmOtherCalls(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	good := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := good.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	good.StartAudio(ctx, 0)
	waitEchoed(t, good, 5)

	// Malformed JSON and messages on the good call: refused, call goes on.
	for _, raw := range []string{"{", `{"type":"nonsense"}`, `{"type":"dtmf","digits":"xyz"}`, `{"type":"offer","sdp":"v=0"}`} {
		if err := good.SendRaw(ctx, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		m, err := good.WaitMessage(ctx, gateway.MsgError)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		t.Logf("%s -> %s: %s", raw, m.Code, m.Error)
	}

	// A second call with a broken offer is refused.
	tok, wsURL := authorize(t, svc, testFrom, "support", nil)
	bad, err := client.Connect(ctx, wsURL, tok, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	for _, sdp := range []string{"v=0\r\nthis is not sdp", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"} {
		if err := bad.Send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: sdp}); err != nil {
			break // the box closes after a bad offer
		}
	}

	// Garbage on the SIP port.
	peer := newSIPPeer(t, "127.0.0.5", sipListen(svc))
	for _, g := range []string{"\x00\xff\xfe", "INVITE\r\n\r\n", "SIP/2.0 200 OK\r\nCall-ID: nope\r\n\r\n", "BYE sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n"} {
		peer.raw(t, []byte(g))
	}

	// The good call still flows both ways and ends normally.
	before := good.Stats().Echoed
	waitEchoed(t, good, before+25)
	if len(svc.Snapshot()) != 1 {
		t.Errorf("%d calls in progress, want only the good one", len(svc.Snapshot()))
	}
	good.Hangup(ctx)
	if ev, err := good.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
		t.Errorf("good call end: %+v %v", ev, err)
	}
	uas.wait(t, 10*time.Second)
}
