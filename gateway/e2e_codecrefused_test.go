package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// The box relays audio and does not transcode (docs/gateway-protocol.md).
// A PBX that answers with a codec the browser did not offer (G.722 only,
// to a browser offering PCMU) gets ACK and BYE (SIPp's scenario waits for
// both), and the customer's call ends 488 with a reason naming both sides'
// codecs and what to change, instead of "no codec the browser offered".
func TestPBXAnswersCodecNotOffered(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_codec", 1, "-key", "pt", "9", "-key", "rtpmap", "G722/8000")
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, Codec: "pcmu"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	uas.wait(t, 10*time.Second)
	if ev.SIPCode != 488 {
		t.Errorf("ended %d %q, want 488", ev.SIPCode, ev.Reason)
	}
	for _, w := range []string{"g722/8000", "pcmu/8000", "does not transcode"} {
		if !strings.Contains(ev.Reason, w) {
			t.Errorf("reason %q does not say %q", ev.Reason, w)
		}
	}
}
