package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
)

// A call older than the answer's accepted window (RFC 6026's Timer M,
// 32 s; shortened here) keeps only a slim copy of its SIP dialog
// (dialogslim.go). These tests run the dialog's requests on it: the
// box's BYE along the PBX's route set, the PBX's BYE, and a transfer's
// NOTIFYs and BYE through Kamailio. Not parallel: the window is a
// package variable of sipgo.

const slimWindow = 300 * time.Millisecond

func TestSlimDialogByeBothWays(t *testing.T) {
	t.Cleanup(gateway.SetAcceptedWindow(slimWindow))
	t.Run("box hangs up along the route set", func(t *testing.T) {
		uas := startSIPp(t, "uas_rr_slim", 1)
		svc := startGateway(t, testConfig(t, uas.addr()))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
		if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the call's dialog slimmed", func() bool { return gateway.DialogsSlimmed(svc) == 1 })
		if err := c.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		if ev, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil || ev.SIPCode != 200 {
			t.Errorf("ended %+v %v", ev, err)
		}
		uas.wait(t, 10*time.Second) // its BYE came, carrying the recorded route, and was answered
	})
	t.Run("PBX hangs up", func(t *testing.T) {
		uas := startSIPp(t, "uas_bye", 1) // BYE 1.5 s after the ACK
		svc := startGateway(t, testConfig(t, uas.addr()))
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
		ev, err := c.WaitEvent(ctx, gateway.EventEnded)
		if err != nil {
			t.Fatal(err)
		}
		if ev.SIPCode != 200 || !strings.Contains(ev.Reason, "agent hung up") {
			t.Errorf("ended %d %q, want 200 agent hung up", ev.SIPCode, ev.Reason)
		}
		if n := gateway.DialogsSlimmed(svc); n != 1 {
			t.Errorf("%d dialogs slimmed before the PBX's BYE, want 1", n)
		}
		uas.wait(t, 10*time.Second) // its BYE was answered 200
	})
}

func TestSlimDialogTransferThroughKamailio(t *testing.T) {
	t.Cleanup(gateway.SetAcceptedWindow(slimWindow))
	svc := blindTransferThroughKamailio(t)
	// the REFER came 800 ms after the answer: the old dialog was slim; then
	// the new one too before the hangup
	if n := gateway.DialogsSlimmed(svc); n != 2 {
		t.Errorf("%d dialogs slimmed, want 2 (before the transfer, and the new one)", n)
	}
}
