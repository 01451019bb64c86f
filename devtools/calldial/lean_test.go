package calldial_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/devtools/bench"
	"edgebox/devtools/calldial"
)

// leanGoroutinesPerCall bounds a lean call's goroutines in calldial: its
// own, its WebSocket's reader and its socket's leftovers reader (STUN
// and DTLS), with one to spare. A call with a PeerConnection has about
// twenty.
const leanGoroutinesPerCall = 4

// TestLeanCallsThroughGateway places calls without a PeerConnection
// through the gateway process to SIPp, which echoes the audio: every
// packet calldial sends must cross the gateway to SIPp and come back
// through it, decrypted by the call's own SRTP session, and the calls
// must hold few goroutines while up.
func TestLeanCallsThroughGateway(t *testing.T) {
	const calls = 4
	r := rig(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	g0, fd0 := runtime.NumGoroutine(), openFDs(t)
	var peak atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	rep, err := calldial.Run(ctx, calldial.Options{
		Portal: r.Gateway.Portal, APIKey: bench.APIKey, Lean: true,
		Rate: 20, Concurrency: calls, Total: calls, Hold: 3 * time.Second, Codec: "pcmu",
		GatewayPID: r.Gateway.PID(), UASPID: r.UAS.PID(), WatchUDP: r.WatchUDP(),
	})
	close(stop)
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	leaks(t, g0, fd0)
	if rep.Attempted != calls || rep.Answered != calls || rep.Failed != 0 {
		t.Fatalf("attempted %d answered %d failed %d (%v), want %d/%d/0", rep.Attempted, rep.Answered, rep.Failed, rep.Failures, calls, calls)
	}
	m := rep.Media
	if m.Sent < calls*100 || m.CallsWithMedia != calls {
		t.Errorf("media: sent %d by %d calls, want >= %d by %d", m.Sent, m.CallsWithMedia, calls*100, calls)
	}
	if m.Lost != 0 || m.Received != m.Sent {
		t.Errorf("media: sent %d received %d lost %d, want every packet echoed", m.Sent, m.Received, m.Lost)
	}
	// no pion path to start on: every packet both ways went through the
	// call's dtlssrtp session
	f := rep.FastPath
	if f.Calls != calls || f.PacketsSent != m.Sent || f.PacketsRecvd != m.Received {
		t.Errorf("SRTP sessions: %d calls, %d of %d sent, %d of %d received; want all", f.Calls, f.PacketsSent, m.Sent, f.PacketsRecvd, m.Received)
	}
	if rep.FirstMediaMS.N != calls || rep.FirstMediaMS.P50 < rep.SetupMS.P50 {
		t.Errorf("setup %+v first media %+v", rep.SetupMS, rep.FirstMediaMS)
	}
	if grown := int(peak.Load()) - g0; grown > calls*leanGoroutinesPerCall+8 {
		t.Errorf("%d goroutines more with %d calls up, want at most %d per call (no PeerConnection)", grown, calls, leanGoroutinesPerCall)
	} else {
		t.Logf("%d goroutines more with %d calls up", grown, calls)
	}
}
