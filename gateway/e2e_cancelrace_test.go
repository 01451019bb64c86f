package gateway_test

import (
	"context"
	"testing"
	"time"

	"edgebox/gateway"
)

// The agent answers as the customer hangs up while it rings: the PBX's
// 200 OK crosses the box's CANCEL. The box ACKs the 200 and sends BYE
// (SIPp fails the scenario otherwise: the agent's phone would stay in a
// call with nobody), and the customer's call ends as hung up.
func TestCancelCrossesAnswer(t *testing.T) {
	t.Parallel()
	forEachStack(t, testCancelCrossesAnswer)
}

func testCancelCrossesAnswer(t *testing.T) {
	uas := startSIPp(t, "uas_cancel_race", 1)
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
	if _, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil {
		t.Fatal(err)
	}
	uas.wait(t, 15*time.Second)
	if h := svc.History(1); len(h) != 1 || h[0].State != gateway.StateEnded {
		t.Errorf("history %+v, want the call ended", h)
	}
}
