package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// Third review: POST /api/v1/config/validate took a read-scope token and
// answered the list of changes, where a secret was marked changed exactly
// when the value sent differed from the stored one. A monitoring token
// could so try every SIM PIN (10,000 requests, no limiter) or a weak trunk
// password, and learn it without ever reading it.
func TestSecValidateIsNoSecretOracle(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	admin := mintToken(t, e, "admin")
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/set", ctype: "application/json", hdr: bearer(admin),
		body: `{"settings":{"network.modem.pin":"4711","gateway.trunk.password":"s3cret-trunk"}}`}); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	_, cur := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/config", hdr: bearer(admin)})
	var doc map[string]any
	if err := json.Unmarshal([]byte(cur), &doc); err != nil {
		t.Fatal(err)
	}
	// guess sends the current (redacted) config with one PIN guess and
	// says whether the answer tells the PIN apart.
	guess := func(tok, pin string) (int, bool) {
		net := doc["network"].(map[string]any)
		net["modem"].(map[string]any)["pin"] = pin
		b, _ := json.Marshal(doc)
		code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/validate", ctype: "application/json", hdr: bearer(tok), body: string(b)})
		return code, strings.Contains(body, "network.modem.pin")
	}
	for _, scope := range []string{"read", "operate"} {
		tok := mintToken(t, e, scope)
		codeWrong, changedWrong := guess(tok, "1234")
		codeRight, changedRight := guess(tok, "4711")
		if codeWrong == 200 && codeRight == 200 && changedWrong != changedRight {
			t.Errorf("%s token: validate tells a right PIN from a wrong one (wrong guess listed as a change: %v, right guess: %v)", scope, changedWrong, changedRight)
		}
		if codeWrong != 403 || codeRight != 403 {
			t.Errorf("%s token: validate answered %d/%d, want 403 (a dry run of a config change needs admin scope)", scope, codeWrong, codeRight)
		}
	}
	// The admin keeps the dry run (the admin can read every secret anyway,
	// through a backup).
	if code, changed := guess(admin, "1234"); code != 200 || !changed {
		t.Errorf("admin validate: %d, PIN change listed: %v", code, changed)
	}
}
