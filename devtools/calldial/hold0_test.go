package calldial_test

import (
	"context"
	"testing"
	"time"

	"edgebox/devtools/bench"
	"edgebox/devtools/calldial"
)

// TestHoldZeroHangsUpAtFirstMedia: with Hold 0 each call hangs up as
// soon as its first packet came back (bench's set-up ramps count the
// gateway's CPU per set-up so), so few packets are sent per call, and
// each call still counts its first media.
func TestHoldZeroHangsUpAtFirstMedia(t *testing.T) {
	const calls = 4
	r := rig(t, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err := calldial.Run(ctx, calldial.Options{
		Portal: r.Gateway.Portal, APIKey: bench.APIKey, Lean: true,
		Rate: 20, Concurrency: calls, Total: calls, Codec: "pcmu",
		GatewayPID: r.Gateway.PID(), UASPID: r.UAS.PID(), WatchUDP: r.WatchUDP(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Answered != calls || rep.Failed != 0 {
		t.Fatalf("answered %d failed %d (%v), want %d/0", rep.Answered, rep.Failed, rep.Failures, calls)
	}
	if rep.FirstMediaMS.N != calls || rep.Media.CallsWithMedia != calls {
		t.Errorf("first media of %d calls, media on %d, want %d", rep.FirstMediaMS.N, rep.Media.CallsWithMedia, calls)
	}
	// a packet each 20 ms: the echo of the first is back within a few
	// (a held call sends 50 a second)
	if rep.Media.Sent > calls*5 {
		t.Errorf("%d packets sent by %d calls, want a few each (hung up at the first echo)", rep.Media.Sent, calls)
	}
}
