package gateway_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// The PBX refuses the call in the ways real PBXs do; the customer's page
// (the ended event) and the portal (history) get a reason that says what
// happened whatever the PBX's own wording, with its code and words kept.
// Before, the reason was the PBX's reason phrase alone ("Busy Here", or
// nothing from a PBX that sends none).
func TestPBXRefusalsSayWhy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status string // the PBX's status line after "SIP/2.0 "
		code   int
		words  []string
		tcp    bool // over TCP: sipgo's stream parser closed the connection on a bare status line
	}{
		{"486 Busy Here", 486, []string{"the line is busy", "(486 Busy Here)"}, false},
		{"480 Temporarily Unavailable", 480, []string{"nobody can take the call now", "(480 Temporarily Unavailable)"}, false},
		{"404 Not Found", 404, []string{"the PBX does not know this destination", "(404 Not Found)"}, false},
		{"603 Decline", 603, []string{"the call was declined", "(603 Decline)"}, false},
		{"480 ", 480, []string{"nobody can take the call now", "(480 Temporarily Unavailable)"}, false},
		{"486 USER_BUSY", 486, []string{"the line is busy", "(486 USER_BUSY)"}, false},
		{"480", 480, []string{"nobody can take the call now", "(480 Temporarily Unavailable)"}, true},
		{"486 Busy Here", 486, []string{"the line is busy", "(486 Busy Here)"}, true},
	} {
		name := strings.ReplaceAll(strings.TrimSpace(tc.status), " ", "_")
		if tc.tcp {
			name += "_over_TCP"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_busy.xml"))
			if err != nil {
				t.Fatal(err)
			}
			xml := strings.Replace(string(raw), "SIP/2.0 486 Busy Here", "SIP/2.0 "+tc.status, 1)
			scenario := filepath.Join(t.TempDir(), "uas_refuse.xml")
			if err := os.WriteFile(scenario, []byte(xml), 0o644); err != nil {
				t.Fatal(err)
			}
			var uas *sipp
			var cfg config.Gateway
			if tc.tcp {
				uas = startSIPp(t, scenario, 1, "-t", "t1")
				cfg = testConfig(t, uas.addr())
				cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "tcp", Address: fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))}}
				cfg.PBX.Transport = "tcp"
			} else {
				uas = startSIPp(t, scenario, 1)
				cfg = testConfig(t, uas.addr())
			}
			svc := startGateway(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
			ev, err := c.WaitEvent(ctx, gateway.EventEnded)
			if err != nil {
				t.Fatal(err)
			}
			uas.wait(t, 10*time.Second)
			h := svc.History(1)
			if len(h) != 1 {
				t.Fatalf("history %+v, want the call", h)
			}
			for what, got := range map[string]struct {
				code   int
				reason string
			}{"ended event": {ev.SIPCode, ev.Reason}, "history": {h[0].SIPCode, h[0].Reason}} {
				if got.code != tc.code {
					t.Errorf("%s: code %d, want %d", what, got.code, tc.code)
				}
				for _, w := range tc.words {
					if !strings.Contains(got.reason, w) {
						t.Errorf("%s: reason %q does not say %q", what, got.reason, w)
					}
				}
			}
		})
	}
}
