package gateway_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
)

// A PBX that numbers telephone-event 96 in its answer (the box offered the
// browser's number) and sends its own digits as SIP INFO, as Asterisk with
// dtmf_mode=info and many SBCs do. The digits the client sends through
// the box go to the PBX as RFC 4733 with the PBX's 96 (SIPp echoes them,
// and the box reads the echo back as the PBX's digits), and the PBX's
// INFO digits reach the client as "dtmf" messages. Before, INFO from the
// PBX was answered 200 and its digit dropped: the customer's page never
// saw the agent's key presses.
func TestPBXDTMFOtherPayloadTypeAndINFO(t *testing.T) {
	t.Parallel()
	forEachStack(t, testPBXDTMFOtherPayloadTypeAndINFO)
}

func testPBXDTMFOtherPayloadTypeAndINFO(t *testing.T) {
	uas := startSIPp(t, "uas_te96_info", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 5)
	if err := c.DTMF(ctx, "5"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		m, err := c.WaitMessage(ctx, gateway.MsgDTMF)
		if err != nil {
			t.Fatalf("digits from the PBX side so far %q: %v", got, err)
		}
		got = append(got, m.Digits)
	}
	slices.Sort(got)
	if s := strings.Join(got, ""); s != "*59" {
		t.Errorf("digits from the PBX side %q, want 5 (RFC 4733 at PT 96, echoed), 9 and * (INFO)", s)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 15*time.Second)
}
