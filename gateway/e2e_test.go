package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/pion/webrtc/v4"
)

var testContext = map[string]string{"customer_id": "42", "page": "/billing", "queue": "support"}

const testFrom = "sip:customer42@example.com"

// dialThrough authorises and dials a call as the portal and the app do.
func dialThrough(t *testing.T, ctx context.Context, svc *gateway.Service, dest string) *client.Call {
	t.Helper()
	tok, wsURL := authorize(t, svc, testFrom, dest, testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitEchoed polls until the client got n of its own packets back.
func waitEchoed(t *testing.T, c *client.Call, n uint64) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, "audio both ways through the gateway and the echoing UAS", func() (bool, error) {
		st := c.Stats()
		return st.Echoed >= n, fmt.Errorf("only %+v", st)
	})
}

// waitConnected waits until the client's ICE and DTLS are up.
func waitConnected(t *testing.T, c *client.Call) {
	t.Helper()
	testenv.WaitFor(t, 15*time.Second, "client ICE and DTLS connected", func() (bool, error) {
		st := c.ConnectionState()
		return st == webrtc.PeerConnectionStateConnected, fmt.Errorf("client still %s", st)
	})
}

func TestCallEchoThroughSIPp(t *testing.T) {
	t.Parallel()
	forEachStack(t, testCallEchoThroughSIPp)
}

func testCallEchoThroughSIPp(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 25)

	calls := svc.Snapshot()
	if len(calls) != 1 {
		t.Fatalf("API shows %d calls, want 1", len(calls))
	}
	ci := calls[0]
	if ci.State != gateway.StateAnswered || ci.Codec != "pcmu" || ci.From != testFrom {
		t.Errorf("call info = %+v", ci)
	}
	if ci.Browser.In.Packets == 0 || ci.PBX.Out.Packets == 0 || ci.PBX.In.Packets == 0 || ci.Browser.Out.Packets == 0 {
		t.Errorf("packet counters not moving in every direction: browser %+v pbx %+v", ci.Browser, ci.PBX)
	}
	requireFastPath(t, svc, calls, 25)

	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	if ev.SIPCode != 200 {
		t.Errorf("ended with %d %q, want 200 after a normal hangup", ev.SIPCode, ev.Reason)
	}
	uas.wait(t, 10*time.Second)
}

// With gateway.media.pion_media_path set, calls stay on pion's own packet
// path (the switch for diagnosing interop problems) and still work.
func TestPionMediaPathSwitch(t *testing.T) {
	t.Parallel()
	e := startEchoCall(t, func(cfg *config.Gateway) { cfg.Media.PionMediaPath = true })
	e.c.StartAudio(e.ctx, 0)
	waitEchoed(t, e.c, 50)
	if ci := e.svc.Snapshot()[0]; ci.MediaPath != gateway.PathPion {
		t.Errorf("media path %q, want %q", ci.MediaPath, gateway.PathPion)
	}
	if st := e.svc.Status(); st.FastPackets != 0 {
		t.Errorf("fast path carried %d packets with pion_media_path set", st.FastPackets)
	}
	e.hangup(t)
}
