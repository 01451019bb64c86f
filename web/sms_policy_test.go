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
