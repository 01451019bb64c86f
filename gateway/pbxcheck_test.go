package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
)

// TestPBXCheck: the SIP test button's OPTIONS through the gateway's API,
// at a real Kamailio (its status line and round trip), at a closed port
// and at the box's own SIP port (the trunk check's kinds and words).
func TestPBXCheck(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Run("kamailio", func(t *testing.T) {
		kam := startKamailio(t)
		api := serveAPI(t, startGateway(t, testConfig(t, kam.Addr())))
		got, err := api.PBXCheck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !got.OK || got.Answer == "" || !strings.HasPrefix(got.Answer, "200") && !strings.HasPrefix(got.Answer, "4") || got.RTTMillis <= 0 || got.PBX != kam.Addr() || !strings.Contains(got.Message, "answered "+got.Answer) || got.Kind != "" {
			t.Errorf("OPTIONS to Kamailio: %+v", got)
		}
		t.Logf("Kamailio: %s (server %q) in %.2f ms", got.Answer, got.Server, got.RTTMillis)
	})
	t.Run("closed port", func(t *testing.T) {
		// A loopback address nothing in the tests binds: a port picked on
		// 127.0.0.1 was once handed again to the gateway's own SIP
		// listener (or another test's), which then answered the check.
		port := freePort(t, "udp")
		api := serveAPI(t, startGateway(t, testConfig(t, fmt.Sprintf("127.0.197.1:%d", port))))
		got, err := api.PBXCheck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.OK || got.Kind != gateway.TrunkRefused || !strings.Contains(got.Message, "port is closed") {
			t.Errorf("OPTIONS to a closed port: %+v", got)
		}
	})
	t.Run("the box itself", func(t *testing.T) {
		cfg := testConfig(t, "")
		cfg.PBX.Address = cfg.SIP.Listen[0].Address
		api := serveAPI(t, startGateway(t, cfg))
		got, err := api.PBXCheck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.OK || got.Kind != gateway.TrunkSelf || !strings.Contains(got.Message, "own SIP port") {
			t.Errorf("OPTIONS to the box itself: %+v", got)
		}
	})
}
