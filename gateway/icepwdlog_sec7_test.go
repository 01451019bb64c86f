package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// TestSec7DebugLogHidesICEPassword: with debug logging the gateway wrote
// its answer's SDP whole, the call's ICE password (a=ice-pwd) with it; a
// read token reads the logs, and with the password anyone on the internet
// may nominate the call's pair from an address of its choice and take
// the call's media away. The logged SDP now says ******** for it, on both
// stacks. Seventh review.
func TestSec7DebugLogHidesICEPassword(t *testing.T) {
	forEachStack(t, func(t *testing.T) {
		uas := startSIPp(t, "uas_echo", 1)
		var mu sync.Mutex
		var logs bytes.Buffer
		svc, err := gateway.New(testConfig(t, uas.addr()), slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
		c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			t.Fatal(err)
		}
		waitConnected(t, c)
		ice, err := c.ICE()
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		log := logs.String()
		mu.Unlock()
		if !strings.Contains(log, "browser answer") {
			t.Fatal("no answer SDP in the debug log: the test sees nothing")
		}
		if strings.Contains(log, ice.RemotePwd) {
			t.Error("the call's ICE password is in the gateway's log")
		}
		c.Hangup(ctx)
		c.WaitEvent(ctx, gateway.EventEnded)
		uas.wait(t, 10*time.Second)
	})
}
