package web

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/internal/config"
)

// With the GSM bridge configured, the REST API's SMS meet the first
// SIM's allow-list (403) and rate limit (429 with Retry-After); without
// it they go as before.
func TestSMSAPIFollowsGSMAllowList(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	nc := &fakeNetctl{}
	serveUnix(t, "netctl", nc.handler())
	tok := e.bootstrap()
	send := func(to string) (int, string) {
		code, b := e.do(nil, call{method: "POST", path: "/api/v1/sms", bearer: tok, body: SMSSend{To: to, Text: "hallo"}})
		return code, string(b)
	}
	if code, b := send("+4990012345678"); code != http.StatusOK {
		t.Fatalf("bridge off: %d %s", code, b)
	}
	c := config.Default()
	c.Gateway.GSM = config.GatewayGSM{Enabled: true, SIMs: []config.GSMSIM{{Slot: "1", CountryCode: "49",
		SMS: config.GSMSMS{Allow: []string{"+4915*"}, RatePerMinute: 1, Burst: 1}}}}
	if err := config.Save(filepath.Join(e.dir, "perm", "edgebox", "config.json"), c); err != nil {
		t.Fatal(err)
	}
	if code, b := send("+4990012345678"); code != http.StatusForbidden || !strings.Contains(b, "premium") {
		t.Errorf("premium: %d %s", code, b)
	}
	if code, b := send("+4930123456"); code != http.StatusForbidden || !strings.Contains(b, "gateway.gsm.sims[0].sms.allow") {
		t.Errorf("not allowed: %d %s", code, b)
	}
	if code, b := send("015550002"); code != http.StatusOK {
		t.Errorf("allowed: %d %s", code, b)
	}
	if code, b := send("+4915550003"); code != http.StatusTooManyRequests || !strings.Contains(b, "rate_per_minute") {
		t.Errorf("over the rate: %d %s", code, b)
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if len(nc.sms) != 2 || nc.sms[1].To != "+4915550002" {
		t.Errorf("netctl got %+v, want the first send and +4915550002", nc.sms)
	}
}

// With the bridge off there is no allow-list, but a token below admin
// scope (a portal's or a script's) sends neither to short codes nor to
// premium ranges: the SMS twin of the AT passthrough's +CMGS refusal.
func TestSMSAPIOperateTokenNoPremiumWithoutBridge(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	nc := &fakeNetctl{}
	serveUnix(t, "netctl", nc.handler())
	admin := e.bootstrap()
	var op NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "portal", Scope: ScopeOperate}}, 201, &op)
	send := func(tok, to string) (int, string) {
		code, b := e.do(nil, call{method: "POST", path: "/api/v1/sms", bearer: tok, body: SMSSend{To: to, Text: "hallo"}})
		return code, string(b)
	}
	for _, to := range []string{"+4990012345678", "004990012345678", "+19005550100", "81188", "1234567"} {
		if code, b := send(op.Token, to); code != http.StatusForbidden || !strings.Contains(b, "admin token") {
			t.Errorf("operate token to %s: %d %s, want 403 naming the admin token", to, code, b)
		}
	}
	for _, to := range []string{"+4915112345678", "015112345678", "00441632960000"} {
		if code, b := send(op.Token, to); code != http.StatusOK {
			t.Errorf("operate token to %s: %d %s, want sent", to, code, b)
		}
	}
	if code, b := send(admin, "81188"); code != http.StatusOK {
		t.Errorf("admin token to a short code: %d %s, want sent", code, b)
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if len(nc.sms) != 4 {
		t.Errorf("netctl got %d SMS (%+v), want the 3 ordinary numbers and the admin's short code", len(nc.sms), nc.sms)
	}
}
