package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

func TestPBXHangsUp(t *testing.T) {
	t.Parallel()
	forEachStack(t, testPBXHangsUp)
}

func testPBXHangsUp(t *testing.T) {
	uas := startSIPp(t, "uas_bye", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "support")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	if ev.SIPCode != 200 || !strings.Contains(ev.Reason, "agent hung up") {
		t.Errorf("ended %d %q, want 200 agent hung up", ev.SIPCode, ev.Reason)
	}
	uas.wait(t, 10*time.Second)
	h := svc.History(1)
	if len(h) != 1 || h[0].Reason != "agent hung up" || h[0].AnsweredAt.IsZero() || h[0].Context["queue"] != "support" {
		t.Errorf("history = %+v", h)
	}
}

func TestClientCancelsWhileRinging(t *testing.T) { forEachStack(t, testClientCancelsWhileRinging) }

func testClientCancelsWhileRinging(t *testing.T) {
	uas := startSIPp(t, "uas_cancel", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventRinging); err != nil {
		t.Fatal(err)
	}
	if err := c.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	if ev.SIPCode != 487 {
		t.Errorf("ended %d %q, want 487 after CANCEL", ev.SIPCode, ev.Reason)
	}
	uas.wait(t, 10*time.Second)
}

func TestClientLeavesWhileRinging(t *testing.T) { forEachStack(t, testClientLeavesWhileRinging) }

func testClientLeavesWhileRinging(t *testing.T) {
	// Closing the WebSocket while ringing cancels the INVITE too.
	uas := startSIPp(t, "uas_cancel", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventRinging); err != nil {
		t.Fatal(err)
	}
	c.Close()
	uas.wait(t, 15*time.Second)
	h := svc.History(1)
	if len(h) != 1 || h[0].SIPCode != 487 {
		t.Errorf("history = %+v, want one call ended 487", h)
	}
}

func TestPBXRejectsBusy(t *testing.T) {
	t.Parallel()
	forEachStack(t, testPBXRejectsBusy)
}

func testPBXRejectsBusy(t *testing.T) {
	uas := startSIPp(t, "uas_busy", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	if ev.SIPCode != 486 {
		t.Errorf("ended %d %q, want 486", ev.SIPCode, ev.Reason)
	}
	uas.wait(t, 10*time.Second)
}

func TestHoldResumeFromPBX(t *testing.T) {
	t.Parallel()
	forEachStack(t, testHoldResumeFromPBX)
}

func testHoldResumeFromPBX(t *testing.T) {
	uas := startSIPp(t, "uas_hold", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	if _, err := c.WaitEvent(ctx, gateway.EventHeld); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitEvent(ctx, gateway.EventResumed); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Echoed
	waitEchoed(t, c, before+10) // audio flows again after resume
	c.Hangup(ctx)
	if _, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil {
		t.Fatal(err)
	}
	uas.wait(t, 10*time.Second)
}

func TestDTMFReachesUASAsRFC4733(t *testing.T) {
	t.Parallel()
	forEachStack(t, testDTMFReachesUASAsRFC4733)
}

func testDTMFReachesUASAsRFC4733(t *testing.T) {
	// The UAS echoes RTP: the telephone-event packets the box sends come
	// back, and the box reports them to the client as DTMF from the PBX
	// side. So each digit went box -> UAS as RFC 4733 and back. The echoed
	// event packets also reach the client's media labelled with its own
	// telephone-event payload type, on either media path.
	for _, pionPath := range []bool{false, true} {
		t.Run(fmt.Sprintf("pion_media_path=%v", pionPath), func(t *testing.T) {
			e := startEchoCall(t, func(cfg *config.Gateway) { cfg.Media.PionMediaPath = pionPath })
			e.c.StartAudio(e.ctx, 0)
			waitEchoed(t, e.c, 5)
			if err := e.c.DTMF(e.ctx, "5#"); err != nil {
				t.Fatal(err)
			}
			var got string
			for len(got) < 2 {
				m, err := e.c.WaitMessage(e.ctx, gateway.MsgDTMF)
				if err != nil {
					t.Fatalf("got %q so far: %v", got, err)
				}
				got += m.Digits
			}
			if got != "5#" {
				t.Errorf("digits echoed by the UAS = %q, want 5#", got)
			}
			// each digit is several event packets; the end one is the last
			testenv.Until(5*time.Second, "telephone-events", testenv.Cond(func() bool { return e.c.Stats().Events >= 6 }))
			if n := e.c.Stats().Events; n < 6 {
				t.Errorf("client received %d telephone-event packets, want the echoed events of 2 digits", n)
			}
			e.hangup(t)
		})
	}
}

func TestDigestAuthAgainstSIPp(t *testing.T) {
	t.Parallel()
	forEachStack(t, testDigestAuthAgainstSIPp)
}

func testDigestAuthAgainstSIPp(t *testing.T) {
	uas := startSIPp(t, "uas_auth", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "trunk-secret"
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 10)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second) // fails when the digest was wrong or From was the trunk user
}

func TestDigestAuthWrongPasswordFails(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_auth", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Trunk.Username, cfg.Trunk.Password = "trunkuser", "wrong"
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	// SIPp sees a bad digest and gives up on the call without answering;
	// the INVITE then times out at the box.
	select {
	case <-uas.done:
	case <-time.After(20 * time.Second):
		t.Fatal("sipp did not reject the wrong digest")
	}
	if uas.err == nil {
		t.Fatal("sipp accepted a digest made with the wrong password")
	}
	c.Hangup(ctx)
}

// TestPBXHangsUpWhileRinging: a BYE from the PBX before any final answer
// ends the call from the ringing loop, while the API reads the call's
// state from other goroutines (run it with -race: the ringing loop used
// to read the state without the call's lock).
func TestPBXHangsUpWhileRinging(t *testing.T) {
	t.Parallel()
	forEachStack(t, testPBXHangsUpWhileRinging)
}

func testPBXHangsUpWhileRinging(t *testing.T) {
	uas := startSIPp(t, "uas_bye_ringing", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := make(chan struct{})
	polled := make(chan int)
	go func() {
		n := 0
		defer func() { polled <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, ci := range svc.Snapshot() {
				_ = ci.State
			}
			n++
			time.Sleep(time.Millisecond)
		}
	}()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventRinging); err != nil {
		t.Fatal(err)
	}
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	close(stop)
	if n := <-polled; n == 0 {
		t.Error("the API was never read during the call")
	}
	if err != nil {
		t.Fatal(err)
	}
	if ev.SIPCode != 200 || ev.Reason != "agent hung up" {
		t.Errorf("ended %d %q, want 200 agent hung up", ev.SIPCode, ev.Reason)
	}
	uas.wait(t, 15*time.Second)
	if h := svc.History(1); len(h) != 1 || h[0].State != gateway.StateEnded || !h[0].AnsweredAt.IsZero() {
		t.Errorf("history = %+v, want one unanswered call ended", h)
	}
}
