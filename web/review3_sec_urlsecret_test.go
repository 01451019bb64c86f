package web

import (
	"strings"
	"testing"
)

// Third review: secrets are redacted by the name of their field, and a
// webhook URL is a secret by its value: chat and CRM hooks carry their
// key in the path (https://hooks.example/services/T0/B0/XXXX) or as
// user:password. A read-scope token read it in GET /api/v1/config, and
// the readable (unencrypted) part of a backup and the support bundle
// carried it too.
func TestSecWebhookURLRedacted(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	admin := mintToken(t, e, "admin")
	const hook = "https://bot:hunter2-hook@hooks.example.com/services/T0/B0/sEcReTpAtH"
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/set", ctype: "application/json", hdr: bearer(admin),
		body: `{"settings":{"gateway.gsm":{"enabled":true,"sims":[{"slot":"1","country_code":"49","sms":{"webhook_url":"` + hook + `","webhook_secret":"whsec-0123456789"}}]}}}`})
	if code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	read := mintToken(t, e, "read")
	for _, path := range []string{"", "?path=gateway.gsm.sims[0].sms.webhook_url"} {
		code, body := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/config" + path, hdr: bearer(read)})
		if code != 200 {
			t.Fatalf("GET config%s: %d %s", path, code, body)
		}
		if strings.Contains(body, "hunter2") || strings.Contains(body, "sEcReTpAtH") {
			t.Errorf("GET /api/v1/config%s shows the webhook URL to a read token: %s", path, body)
		}
	}
	code, body = send(t, req{method: "POST", url: e.ts.URL + "/api/v1/backup", ctype: "application/json", hdr: bearer(admin), body: `{"passphrase":"a long backup passphrase"}`})
	if code != 200 {
		t.Fatalf("backup: %d %s", code, body)
	}
	if strings.Contains(body, "hunter2") || strings.Contains(body, "sEcReTpAtH") {
		t.Error("the readable part of a backup carries the webhook URL")
	}
	// A document sent back with the redacted value keeps the stored URL.
	code, body = send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/set", ctype: "application/json", hdr: bearer(admin),
		body: `{"settings":{"gateway.gsm.sims[0].sms.webhook_url":"********"}}`})
	if code != 200 {
		t.Fatalf("set redacted: %d %s", code, body)
	}
	if c, err := e.srv.loadConfig(); err != nil || c.Gateway.GSM.SIMs[0].SMS.WebhookURL != hook {
		t.Errorf("the stored webhook URL after sending it back redacted: %v %+v", err, c)
	}
}
