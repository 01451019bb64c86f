package gateway_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// SIP over TCP with a PBX that closes the connection between calls (an
// idle timeout, or a restart): SIPp answers one call over TCP and exits,
// closing its end; a new SIPp takes the same port. The next call must
// open a new connection, not fail on the closed one.
func TestTCPPBXClosesBetweenCalls(t *testing.T) {
	first := startSIPp(t, "uas_echo", 1, "-t", "t1")
	cfg := testConfig(t, first.addr())
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))}}
	cfg.PBX.Transport = "tcp"
	svc := startGateway(t, cfg)
	for i, uas := range []*sipp{first, nil} {
		if uas == nil {
			uas = startSIPp(t, "uas_echo", 1, "-t", "t1", "-p", strconv.Itoa(first.port), "-mp", strconv.Itoa(first.mport))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
		if ev, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			cancel()
			t.Fatalf("call %d: %v (%+v)", i+1, err, ev)
		}
		c.StartAudio(ctx, 0)
		waitEchoed(t, c, 10)
		c.Hangup(ctx)
		c.WaitEvent(ctx, gateway.EventEnded)
		uas.wait(t, 10*time.Second) // SIPp exits: its end of the connection closes
		cancel()
	}
}
