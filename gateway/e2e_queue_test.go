package gateway_test

import (
	"context"
	"testing"
	"time"

	"edgebox/gateway"
)

// TestPBXQueueInfo: the PBX (SIPp as a queue) tells the waiting customer
// its place with a SIP INFO in the call's dialog; the box refuses a bad
// one with 400 (SIPp fails otherwise) and hands the good one to the page
// as a "queue" message.
func TestPBXQueueInfo(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_queue_info", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "support")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	m, err := c.WaitMessage(ctx, gateway.MsgQueue)
	if err != nil {
		t.Fatal(err)
	}
	if m.Position != 3 || m.WaitSec != 120 {
		t.Errorf("queue message %+v, want position 3, wait_sec 120", m)
	}
	if _, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil {
		t.Fatal(err)
	}
	uas.wait(t, 15*time.Second)
}
