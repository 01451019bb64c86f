package gateway_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/testenv"
)

// The PBX hangs up with a BYE whose To tag is not the box's (an SBC that
// rewrites tags, or a PBX bug). The call ends (a 481 would leave the
// customer on a line with nobody; SIPp fails without its 200), and the
// gateway's log tells the PBX admin which tag was wrong.
func TestPBXByeWithWrongTag(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_bye_wrongtag", 1)
	var logs testenv.LogBuffer
	svc, err := gateway.New(testConfig(t, uas.addr()), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	ev, err := c.WaitEvent(ctx, gateway.EventEnded)
	if err != nil {
		t.Fatal(err)
	}
	uas.wait(t, 15*time.Second)
	if ev.Reason != "agent hung up" {
		t.Errorf("ended %d %q, want agent hung up", ev.SIPCode, ev.Reason)
	}
	if l := logs.String(); !strings.Contains(l, "does not carry this call's dialog tags") || !strings.Contains(l, "0000notthebox") {
		t.Errorf("the log does not tell the PBX admin about the BYE's tag:\n%s", l)
	}
}
