package web

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTidyInputs(t *testing.T) {
	for in, want := range map[string]string{" Admin": "admin", "ADMIN ": "admin", "root": "root", "": ""} {
		if got := tidyUser(in); got != want {
			t.Errorf("tidyUser(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"abcde-fghjk": "ABCDE-FGHJK", "ABCDE FGHJK": "ABCDE-FGHJK", " abcdefghjk ": "ABCDE-FGHJK", "ab": "AB"} {
		if got := tidyResetCode(in); got != want {
			t.Errorf("tidyResetCode(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"+49 151 1234 5678": "+4915112345678", "+49 (0)151 / 123-45.67": "+491511234567", "0151–1234567": "01511234567", "+4915112345678": "+4915112345678"} {
		if got := tidyPhone(in); got != want {
			t.Errorf("tidyPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// Through the API: "Admin" logs in (and is not a failed try), a reset
// code typed in lower case with a space works, an SMS number in groups
// is sent. Each was refused before, the first two counting towards the
// lockout.
func TestTypedOutsideConfigAccepted(t *testing.T) {
	var mu sync.Mutex
	var printed string
	old := printResetCode
	printResetCode = func(code string, _ time.Time) { mu.Lock(); printed = code; mu.Unlock() }
	t.Cleanup(func() { printResetCode = old })
	e := newTestEnv(t, true, Options{})
	nc := &fakeNetctl{}
	serveUnix(t, "netctl", nc.handler())
	setupAdmin(t, e)
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json",
		body: `{"username":"Admin ","password":"` + testPassword + `"}`}); code != http.StatusOK {
		t.Errorf("login as %q: %d %s", "Admin ", code, body)
	}
	tok := mintToken(t, e, "admin")
	if code, b := e.do(nil, call{method: "POST", path: "/api/v1/sms", bearer: tok, body: SMSSend{To: "+49 151 1234 5678", Text: "hallo"}}); code != http.StatusOK {
		t.Errorf("SMS to a number in groups: %d %s", code, b)
	}
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password/reset-code"}); code != 202 {
		t.Fatalf("reset code: %d %s", code, body)
	}
	mu.Lock()
	typed := strings.ToLower(strings.Replace(printed, "-", " ", 1))
	mu.Unlock()
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password/reset", ctype: "application/json",
		body: `{"code":"` + typed + `","new_password":"another long password"}`}); code != http.StatusOK {
		t.Errorf("reset with %q: %d %s", typed, code, body)
	}
}
