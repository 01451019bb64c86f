package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestSec5SMSAPIOperateTokenRateLimited: with the GSM bridge off no
// allow-list and no rate applied, so an operate token (a portal's or a
// script's, the one most likely to leak) sent as many SMS to ordinary
// numbers as the modem took, at the SIM owner's cost and until the
// carrier blocked the SIM for spam. It now meets a SIM's default rate (6
// a minute, a burst of 3) with 429 and Retry-After; an admin is not
// limited. Fifth review.
func TestSec5SMSAPIOperateTokenRateLimited(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	nc := &fakeNetctl{}
	serveUnix(t, "netctl", nc.handler())
	admin := e.bootstrap()
	var op NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "portal", Scope: ScopeOperate}}, 201, &op)
	sent, limited := 0, 0
	for range 20 {
		code, b := e.do(nil, call{method: "POST", path: "/api/v1/sms", bearer: op.Token, body: SMSSend{To: "+4915112345678", Text: "spam"}})
		switch {
		case code == http.StatusOK:
			sent++
		case code == http.StatusTooManyRequests && strings.Contains(string(b), "a minute"):
			limited++
		default:
			t.Fatalf("operate token: %d %s", code, b)
		}
	}
	if sent > 4 || limited == 0 {
		t.Errorf("operate token: %d of 20 SMS sent, %d refused: want the burst of 3 (4 if a token refilled) and 429 for the rest", sent, limited)
	}
	for range 5 {
		if code, b := e.do(nil, call{method: "POST", path: "/api/v1/sms", bearer: admin, body: SMSSend{To: "+4915112345678", Text: "admin"}}); code != http.StatusOK {
			t.Errorf("admin: %d %s, want sent", code, b)
		}
	}
}
