package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSec6PasswordChangeKeepsTokensUnlessAsked: a password change revoked
// every API token, so a LAN installer changing the local password cut a
// fleet's remote admins off the box. Now the sessions end (every one was
// opened with the old password; the browser that changed it goes on),
// the tokens, made on purpose and each revocable, stay, and the answer
// says so; "revoke_tokens": true (the checkbox, after a break-in) revokes
// them all. Sixth review, left item.
func TestSec6PasswordChangeKeepsTokensUnlessAsked(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	admin := e.bootstrap()
	var fleet NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "fleet", Scope: ScopeAdmin}}, 201, &fleet)

	other, installer := newJarClient(t), newJarClient(t)
	var si SessionInfo
	e.want(other, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 200, nil)
	e.want(installer, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 200, &si)

	// Sessions besides the installer's: the first-boot form's (bootstrap)
	// and the other browser's.
	const second = "the installer's new password"
	var ans PasswordChanged
	e.want(installer, call{method: "POST", path: "/api/v1/password", csrf: si.CSRFToken,
		body: PasswordChange{Old: testPassword, New: second}}, 200, &ans)
	if ans.TokensKept != 2 || ans.TokensRevoked != 0 || ans.SessionsEnded != 2 ||
		!strings.Contains(ans.Message, "API tokens kept: 2") || !strings.Contains(ans.Message, "Other browsers logged out: 2") {
		t.Errorf("default change answered %+v, want 2 tokens kept, 2 other sessions ended, and that in words", ans)
	}
	if code, b := e.do(nil, call{method: "GET", path: "/api/v1/tokens", bearer: fleet.Token}); code != 200 {
		t.Errorf("the fleet's token after the installer's password change: %d %s", code, b)
	}
	code, b := e.do(other, call{method: "GET", path: "/api/v1/session"})
	if code != 401 || !strings.Contains(string(b), "admin password was changed") {
		t.Errorf("the other browser's login after the change: %d %s, want 401 saying why", code, b)
	}
	// The changing browser goes on, with the CSRF token of its answer.
	if code, b := e.do(installer, call{method: "POST", path: "/api/v1/tokens", csrf: ans.CSRFToken, body: TokenRequest{Name: "spare"}}); code != 201 {
		t.Errorf("the installer's browser after the change: %d %s", code, b)
	}

	// After a break-in: every token goes, this browser still goes on.
	var all PasswordChanged
	e.want(installer, call{method: "POST", path: "/api/v1/password", csrf: ans.CSRFToken,
		body: PasswordChange{Old: second, New: "after the break-in", RevokeTokens: true}}, 200, &all)
	if all.TokensRevoked != 3 || all.TokensKept != 0 || !strings.Contains(all.Message, "API tokens revoked: 3") {
		t.Errorf("revoke_tokens answered %+v, want 3 tokens revoked", all)
	}
	for _, tok := range []string{admin, fleet.Token} {
		if code, _ := e.do(nil, call{method: "GET", path: "/api/v1/tokens", bearer: tok}); code != 401 {
			t.Errorf("a token after a change with revoke_tokens: %d, want 401", code)
		}
	}
	var list []TokenInfo
	code, b = e.do(installer, call{method: "GET", path: "/api/v1/tokens"})
	if json.Unmarshal(b, &list); code != 200 || len(list) != 0 {
		t.Errorf("tokens after revoke_tokens: %d %s", code, b)
	}

	// The page offers the choice and says what happened in German too.
	if tr("de", passwordTokensKept) == passwordTokensKept || tr("de", endedPasswd) == endedPasswd {
		t.Error("the password change's sentences have no German")
	}
	code, b = e.do(installer, call{method: "GET", path: "/admin"})
	if page := string(b); code != 200 || !strings.Contains(page, `name="revoke_tokens"`) || !strings.Contains(page, `data-say="message"`) {
		t.Errorf("the admin page (%d) has no revoke_tokens checkbox or does not show the answer's message", code)
	}
}
