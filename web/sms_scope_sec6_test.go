package web

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSec6SMSTextNeedsOperateScope: GET /api/v1/sms took a read token,
// the lowest scope, handed to monitoring systems: it read every SMS the
// box holds, one-time login codes of banks and services included. Reading
// SMS now needs operate, the scope that may send them (and read them
// with the AT passthrough); read gets 403 and the text nowhere else.
// Sixth review.
func TestSec6SMSTextNeedsOperateScope(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	nc := &fakeNetctl{sms: []smsMessage{{ID: "s1", From: "+4915112345678", Text: "Your code is 493817", Time: time.Now()}}}
	serveUnix(t, "netctl", nc.handler())
	admin := e.bootstrap()
	var rd, op NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "monitoring", Scope: ScopeRead}}, 201, &rd)
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "crm", Scope: ScopeOperate}}, 201, &op)

	code, b := e.do(nil, call{method: "GET", path: "/api/v1/sms", bearer: rd.Token})
	if code != http.StatusForbidden || strings.Contains(string(b), "493817") {
		t.Errorf("read token: GET /api/v1/sms answered %d %s, want 403 without the text", code, b)
	}
	for _, tok := range []string{op.Token, admin} {
		if code, b := e.do(nil, call{method: "GET", path: "/api/v1/sms", bearer: tok}); code != http.StatusOK || !strings.Contains(string(b), "493817") {
			t.Errorf("GET /api/v1/sms: %d %s, want the messages", code, b)
		}
	}
}
