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
)

func TestEarlyMedia(t *testing.T) {
	t.Parallel()
	forEachStack(t, testEarlyMedia)
}

func testEarlyMedia(t *testing.T) {
	uas := startSIPp(t, "uas_early", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventEarlyMedia); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 10) // audio both ways before the answer
	if st := svc.Snapshot()[0].State; st != gateway.StateEarly && st != gateway.StateAnswered {
		t.Errorf("state %s during early media", st)
	}
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Echoed
	waitEchoed(t, c, before+10)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}

func TestClientLeavesAnsweredCall(t *testing.T) { forEachStack(t, testClientLeavesAnsweredCall) }

func testClientLeavesAnsweredCall(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.Close() // the tab is closed: the box sends BYE
	uas.wait(t, 10*time.Second)
	if h := svc.History(1); len(h) != 1 || h[0].Reason != "client left" {
		t.Errorf("history %+v", h)
	}
}

// TestCodecsBridgedWithoutTranscoding calls with each codec against a UAS
// that answers with it; opus comes back from the PBX under another payload
// type, so the relay must map it.
func TestCodecsBridgedWithoutTranscoding(t *testing.T) {
	t.Parallel()
	forEachStack(t, testCodecsBridgedWithoutTranscoding)
}

func testCodecsBridgedWithoutTranscoding(t *testing.T) {
	for _, tc := range []struct {
		codec, pt, rtpmap string
	}{
		{"opus", "96", "opus/48000/2"},
		{"g722", "9", "G722/8000"},
		{"pcma", "8", "PCMA/8000"},
		{"pcmu", "0", "PCMU/8000"},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			uas := startSIPp(t, "uas_codec", 1, "-key", "pt", tc.pt, "-key", "rtpmap", tc.rtpmap)
			svc := startGateway(t, testConfig(t, uas.addr()))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
			c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, Codec: tc.codec})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
				t.Fatal(err)
			}
			c.StartAudio(ctx, 0)
			waitEchoed(t, c, 20)
			if got := svc.Snapshot()[0].Codec; got != tc.codec {
				t.Errorf("bridged %s, want %s", got, tc.codec)
			}
			c.Hangup(ctx)
			c.WaitEvent(ctx, gateway.EventEnded)
			uas.wait(t, 10*time.Second)
		})
	}
}

// TestFullICEWithBuiltinSTUN runs the box without a public address: full
// ICE, with the built-in STUN server as its configured server.
func TestFullICEWithBuiltinSTUN(t *testing.T) {
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Media.PublicAddress = ""
	cfg.STUN.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	cfg.Media.ICEServers = []config.GatewayICEServer{{URLs: []string{"stun:" + cfg.STUN.Listen}}}
	svc := startGateway(t, cfg)
	if svc.Status().ICELite {
		t.Fatal("ICE-lite without a public address")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 20)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}

func TestVideoPassedThrough(t *testing.T) {
	t.Parallel()
	forEachStack(t, testVideoPassedThrough)
}

func testVideoPassedThrough(t *testing.T) {
	uas := startSIPp(t, "uas_video", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Media.Video = true
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	c.StartVideo(ctx)
	waitEchoed(t, c, 20)
	testenv.Until(15*time.Second, "video echoed", testenv.Cond(func() bool { return c.Stats().VideoEchoed >= 20 }))
	if st := c.Stats(); st.VideoEchoed < 20 {
		t.Fatalf("video echoed %d of %d sent", st.VideoEchoed, st.VideoSent)
	}
	ci := svc.Snapshot()[0]
	if ci.Stack != config.StackPion {
		// the lean stack carries audio only: a bridged video call falls back
		t.Errorf("video call on stack %q, want pion", ci.Stack)
	}
	if ci.Video == nil || ci.Video.Codec != "vp8" || ci.Video.PBX.In.Packets == 0 || ci.Video.Browser.In.Packets == 0 {
		t.Errorf("video info %+v", ci.Video)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}

func TestVideoOfferedButPBXAudioOnly(t *testing.T) {
	t.Parallel()
	forEachStack(t, testVideoOfferedButPBXAudioOnly)
}

func testVideoOfferedButPBXAudioOnly(t *testing.T) {
	// uas_echo answers audio only (no m=video): the call goes on with audio.
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Media.Video = true
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, Video: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-c.Events():
		if m.Type == gateway.MsgError {
			t.Fatalf("client: %s", m.Error)
		}
	case <-time.After(500 * time.Millisecond):
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 20)
	requireStack(t, svc.Snapshot()) // no video bridged: lean carries the call
	if v := svc.Snapshot()[0].Video; v != nil {
		t.Errorf("video bridged without the PBX: %+v", v)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}

// TestConcurrentCallsShareOnePort places several calls at once: all
// browser legs share the one ICE port, each PBX leg has its own RTP pair.
func TestConcurrentCallsShareOnePort(t *testing.T) {
	t.Parallel()
	forEachStack(t, testConcurrentCallsShareOnePort)
}

func testConcurrentCallsShareOnePort(t *testing.T) {
	const n = 6
	uas := startSIPp(t, "uas_echo", n)
	cfg := testConfig(t, uas.addr())
	cfg.Media.RTPPortMin, cfg.Media.RTPPortMax = freeRTPRange(t, n+2)
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	calls := make([]*client.Call, n)
	for i := range calls {
		calls[i] = dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	}
	for _, c := range calls {
		if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			t.Fatal(err)
		}
		c.StartAudio(ctx, 0)
	}
	for _, c := range calls {
		waitEchoed(t, c, 25)
	}
	snap := svc.Snapshot()
	if len(snap) != n {
		t.Fatalf("%d calls in progress, want %d", len(snap), n)
	}
	locals := map[string]bool{}
	for _, ci := range snap {
		locals[ci.PBX.Local] = true
	}
	if len(locals) != n {
		t.Errorf("PBX legs share RTP ports: %v", locals)
	}
	requireFastPath(t, svc, snap, n*25)
	if st := svc.Status(); st.RTPPairsInUse != n {
		t.Errorf("%d RTP pairs in use, want %d", st.RTPPairsInUse, n)
	}
	for _, c := range calls {
		c.Hangup(ctx)
	}
	for _, c := range calls {
		if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
			t.Errorf("end %+v %v", ev, err)
		}
	}
	uas.wait(t, 15*time.Second)
	if st := svc.Status(); st.RTPPairsInUse != 0 || st.ActiveCalls != 0 {
		t.Errorf("after the calls: %+v", st)
	}
}

// TestFastPathAcrossSequenceWrap: SRTP keys its packets by a 48-bit index
// whose top 32 bits (the rollover counter) both ends must agree on. The
// browser's sequence numbers here wrap either before the call's audio
// moves to the fast path (its first packets reach the box within 256 of
// the wrap, so the move waits until past it, then starts at rollover
// counter 1 in both directions) or after it (the fast path's own
// contexts follow the wrap). Echoes keep arriving well past the wrap,
// none rejected. The client starts sending once its DTLS is up (packets
// sent before that never leave it), so the margin is packets in flight.
func TestFastPathAcrossSequenceWrap(t *testing.T) {
	t.Parallel()
	forEachStack(t, testFastPathAcrossSequenceWrap)
}

func testFastPathAcrossSequenceWrap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first uint16
	}{{"wrap before the move", 65400}, {"wrap on the fast path", 65100}} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEchoCall(t, nil)
			e.c.FirstSeq = tc.first
			// packets sent before DTLS is up never leave the client;
			// how many depends on the machine's load, so start after
			waitConnected(t, e.c)
			e.c.StartAudio(e.ctx, 0)
			// past the wrap by 60 packets at least: 65536 - first + 60
			waitEchoed(t, e.c, uint64(65536-int(tc.first))+60)
			requireFastPath(t, e.svc, e.svc.Snapshot(), 2*60)
			if st := e.c.Stats(); st.Sent-st.Echoed > 3 {
				t.Errorf("sent %d, echoed %d: packets lost around the wrap", st.Sent, st.Echoed)
			}
			e.hangup(t)
		})
	}
}
