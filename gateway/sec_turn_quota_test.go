package gateway_test

import (
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v4"

	"edgebox/gateway"
)

// TestTURNAllocationsPerCredentialBounded: one set of TURN credentials
// (what any visitor of the portal's site gets with a call token) makes at
// most a handful of allocations; before the fix every request got a relay
// socket of its own, 30 of 30 here, as many as a script asked for.
func TestTURNAllocationsPerCredentialBounded(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:5")
	withLoopbackTURN(t, &cfg)
	startGateway(t, cfg)
	user, pass := gateway.TURNCredentials(cfg.TURN.Secret, "script", time.Hour, time.Now())
	allocated := 0
	for range 30 {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: cfg.TURN.Listen, STUNServerAddr: cfg.TURN.Listen,
			Username: user, Password: pass, Realm: "edgebox", Conn: conn, RTO: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		relay, err := c.Allocate()
		if err != nil {
			continue
		}
		defer relay.Close()
		allocated++
	}
	t.Logf("%d allocations", allocated)
	if allocated == 0 {
		t.Fatal("no allocation at all with valid credentials")
	}
	if allocated > 8 {
		t.Errorf("%d allocations for one set of credentials, want at most 8", allocated)
	}
}
