package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Finding 7: tokens never expired, had no scope and survived a password
// change; any token could download the secrets or reflash the box.
func TestReviewTokenScopesExpiryRevocation(t *testing.T) {
	clk := &testClock{t: time.Now()}
	e := newTestEnv(t, true, Options{Now: clk.now})
	setupAdmin(t, e)
	read, operate, admin := mintToken(t, e, "read"), mintToken(t, e, "operate"), mintToken(t, e, "admin")
	fwType, fwBody := multipartFile("firmware", "edgebox.bundle", []byte("EDGEBOX-BUNDLE"), nil)
	type try struct {
		method, path, ctype, body string
	}
	backup := try{"POST", "/api/v1/backup", "application/json", `{"passphrase":"a long passphrase"}`}
	restore := try{"POST", "/api/v1/restore", "application/json", `{"version":1}`}
	firmware := try{"POST", "/api/v1/firmware", fwType, string(fwBody)}
	newToken := try{"POST", "/api/v1/tokens", "application/json", `{"name":"x","scope":"admin"}`}
	configSet := try{"POST", "/api/v1/config/set", "application/json", `{"settings":{"system.timezone":"UTC"}}`}
	reboot := try{"POST", "/api/v1/system/reboot", "", ""}
	proxy := try{"GET", "/api/v1/local/init/v1/system", "", ""}
	services := try{"GET", "/api/v1/services", "", ""}
	do := func(tok string, a try) int {
		code, _ := send(t, req{method: a.method, url: e.ts.URL + a.path, ctype: a.ctype, body: a.body, hdr: bearer(tok)})
		return code
	}
	for _, c := range []struct {
		tok, name string
		a         try
		want      int
	}{
		{read, "read", services, 200},
		{read, "read", backup, 403}, {read, "read", restore, 403}, {read, "read", firmware, 403},
		{read, "read", newToken, 403}, {read, "read", configSet, 403}, {read, "read", reboot, 403}, {read, "read", proxy, 403},
		{read, "read", try{"GET", "/api/v1/local", "", ""}, 200}, // names only: edgectl's remote mode starts with it
		{operate, "operate", reboot, 202},
		{operate, "operate", backup, 403}, {operate, "operate", restore, 403}, {operate, "operate", firmware, 403}, {operate, "operate", configSet, 403},
		{admin, "admin", backup, 200}, {admin, "admin", proxy, 200},
	} {
		if got := do(c.tok, c.a); got != c.want {
			t.Errorf("%s token: %s %s: %d, want %d", c.name, c.a.method, c.a.path, got, c.want)
		}
	}
	// The caller's scope is in the request context for handlers (the AT
	// passthrough's "unsafe" flag needs admin).
	var seen Scope
	h := e.srv.api(ScopeRead, func(w http.ResponseWriter, r *http.Request) { seen = ScopeOf(r) })
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("Authorization", "Bearer "+operate)
	h(httptest.NewRecorder(), r)
	if seen != ScopeOperate {
		t.Errorf("scope in the context: %q", seen)
	}
	// Listed with scope and a 90-day expiry.
	code, body := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/tokens", hdr: bearer(read)})
	var list []TokenInfo
	if json.Unmarshal([]byte(body), &list); code != 200 || len(list) != 3 {
		t.Fatalf("tokens: %d %s", code, body)
	}
	for _, ti := range list {
		if d := ti.Expires.Sub(ti.Created); d != 90*24*time.Hour || !ti.Scope.Valid() {
			t.Errorf("token %+v: lifetime %v", ti, d)
		}
	}
	// Revoked: gone at once.
	if code, body := send(t, req{method: "DELETE", url: e.ts.URL + "/api/v1/tokens/" + list[0].ID, hdr: bearer(admin)}); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if got := do(read, services); got != 401 {
		t.Errorf("revoked token: %d", got)
	}
	// Expired after 90 days.
	clk.add(91 * 24 * time.Hour)
	if got := do(operate, services); got != 401 {
		t.Errorf("token after 91 days: %d", got)
	}
	fresh := mintToken(t, e, "admin")
	// A password change that asks for it revokes every token (by
	// default tokens stay: TestSec6PasswordChangeKeepsTokensUnlessAsked).
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password", ctype: "application/json", hdr: bearer(fresh),
		body: `{"old_password":"` + testPassword + `","new_password":"a new admin password","revoke_tokens":true}`}); code != 200 {
		t.Fatalf("password change: %d %s", code, body)
	}
	if got := do(fresh, services); got != 401 {
		t.Errorf("token after a password change with revoke_tokens: %d", got)
	}
}

// Finding 16: sessions had no absolute lifetime: a script kept a stolen
// cookie alive for ever.
func TestReviewSessionAbsoluteLifetime(t *testing.T) {
	clk := &testClock{t: time.Now()}
	e := newTestEnv(t, false, Options{Now: clk.now})
	setupAdmin(t, e)
	c := newJarClient(t)
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"` + testPassword + `"}`, client: c}); code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	// Active every 50 minutes (the idle limit is 60): alive until 12 h.
	for elapsed := time.Duration(0); elapsed < 12*time.Hour-50*time.Minute; elapsed += 50 * time.Minute {
		clk.add(50 * time.Minute)
		if code, body := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/session", client: c}); code != 200 {
			t.Fatalf("session after %v: %d %s", elapsed+50*time.Minute, code, body)
		}
	}
	clk.add(time.Hour)
	if code, _ := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/session", client: c}); code != 401 {
		t.Fatalf("session alive after 12 h: %d", code)
	}
}

// Finding 1: the only "reset" was deleting web-admin.json, which reopens
// the first-boot window to whoever comes first. The reset needs a code
// shown only at the box.
func TestReviewPasswordResetNeedsPresence(t *testing.T) {
	var mu sync.Mutex
	var printed []string
	old := printResetCode
	printResetCode = func(code string, _ time.Time) { mu.Lock(); printed = append(printed, code); mu.Unlock() }
	t.Cleanup(func() { printResetCode = old })
	lastPrinted := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(printed) == 0 {
			return ""
		}
		return printed[len(printed)-1]
	}
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	tok := mintToken(t, e, "admin")
	reset := func(code, pw string, hdr map[string]string, from ...string) (int, string) {
		r := req{method: "POST", url: e.ts.URL + "/api/v1/password/reset", ctype: "application/json", body: `{"code":"` + code + `","new_password":"` + pw + `"}`, hdr: hdr}
		if len(from) > 0 {
			r.from = from[0]
		}
		return send(t, r)
	}
	// Asking from the LAN prints the code on the console, never in the answer.
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password/reset-code"})
	rc := lastPrinted()
	if code != 202 || rc == "" || strings.Contains(body, rc) {
		t.Fatalf("reset code: %d %s (printed %q)", code, body, rc)
	}
	// Without the code: no reset. A guessing source is stopped after 5
	// tries, even with the right code, without spoiling it for others.
	for i := 0; i < 5; i++ {
		if code, body := reset("WRONG-CODE"+string(rune('A'+i)), "a new admin password", nil, "127.0.0.9"); code != 403 {
			t.Fatalf("wrong code %d: %d %s", i, code, body)
		}
	}
	if code, _ := reset(rc, "a new admin password", nil, "127.0.0.9"); code != 429 {
		t.Fatalf("guessing source goes on: %d", code)
	}
	// Too many wrong tries from everywhere together burn the code.
	oldTries := resetCodeTries
	resetCodeTries = 3
	for i := 0; i < 3; i++ {
		reset("WRONG-CODE"+string(rune('A'+i)), "a new admin password", nil, fmt.Sprintf("127.0.1.%d", i+1))
	}
	resetCodeTries = oldTries
	if code, _ := reset(rc, "a new admin password", nil); code != 403 {
		t.Fatalf("burnt code accepted: %d", code)
	}
	// A page of another site cannot use a code either.
	send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password/reset-code"})
	rc = lastPrinted()
	if code, _ := reset(rc, "a new admin password", map[string]string{"Origin": "http://evil.example"}); code != 403 {
		t.Fatalf("cross-site reset: %d", code)
	}
	if code, _ := reset(rc, "short", nil); code != 400 {
		t.Fatalf("short password: %d", code)
	}
	if code, body := reset(rc, "a new admin password", nil); code != 200 {
		t.Fatalf("reset with the console's code: %d %s", code, body)
	}
	if code, _ := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/services", hdr: bearer(tok)}); code != 401 {
		t.Errorf("token survived the reset: %d", code)
	}
	if code, _ := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/services", hdr: basicAuth("a new admin password")}); code != 200 {
		t.Errorf("new password: %d", code)
	}
	// Root on the box (web's unix socket) gets the code in the answer.
	w := httptest.NewRecorder()
	trusted(e.srv.Handler()).ServeHTTP(w, httptest.NewRequest("POST", "/api/v1/password/reset-code", nil))
	var ans ResetCodeAnswer
	if json.Unmarshal(w.Body.Bytes(), &ans); w.Code != 200 || len(ans.Code) != 11 {
		t.Fatalf("reset code for root: %d %s", w.Code, w.Body)
	}

	// A damaged account file does not reopen first boot.
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "web-admin.json"), []byte("{garbage"), 0o600)
	e2 := newTestEnv(t, false, Options{SecretsDir: secrets})
	if code, body := send(t, req{method: "POST", url: e2.ts.URL + "/api/v1/setup", ctype: "application/json", body: `{"password":"attacker-password-1"}`}); code != 409 {
		t.Fatalf("setup with a damaged account file: %d %s", code, body)
	}
	if code, body := send(t, req{method: "POST", url: e2.ts.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"a new admin password"}`}); code != 401 || !strings.Contains(body, "reset the admin password at the box") {
		t.Fatalf("login with a damaged account file: %d %s", code, body)
	}
}

// Finding 5: an IPv6 host holds a whole /64, so guesses from one /64
// count together; other prefixes and IPv4 addresses are not affected.
func TestReviewLimiterIPv6BySlash64(t *testing.T) {
	l := newLoginLimiter(3, time.Minute)
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"} {
		l.result(a, false)
	}
	if ok, wait := l.allow("2001:db8:1:2::99"); ok || wait <= 0 {
		t.Error("another address of the same /64 may go on guessing")
	}
	for _, a := range []string{"2001:db8:1:3::1", "192.0.2.1", "::ffff:192.0.2.2"} {
		if ok, _ := l.allow(a); !ok {
			t.Errorf("%s slowed by another /64's guesses", a)
		}
	}
}

// The reset code reaches the console and nothing else: not web's stderr
// (init's log buffer, remote syslog, read-scope tokens) nor its log.
func TestReviewResetCodeOnlyOnTheConsole(t *testing.T) {
	console := filepath.Join(t.TempDir(), "console")
	os.WriteFile(console, nil, 0o600)
	oldPath := consolePath
	consolePath = console
	t.Cleanup(func() { consolePath = oldPath })
	r, w, _ := os.Pipe()
	oldErr := os.Stderr
	os.Stderr = w
	var logs testenv.LogBuffer
	oldLog := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	captured := make(chan string)
	go func() { b, _ := io.ReadAll(r); captured <- string(b) }()
	e := newTestEnv(t, false, Options{})
	setupAdmin(t, e)
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/password/reset-code"})
	os.Stderr = oldErr
	w.Close()
	stderr := <-captured
	slog.SetDefault(oldLog)
	b, _ := os.ReadFile(console)
	m := regexp.MustCompile(`reset code ([A-Z0-9]{5}-[A-Z0-9]{5})`).FindStringSubmatch(string(b))
	if code != 202 || m == nil {
		t.Fatalf("console: %q (answer %d %s)", b, code, body)
	}
	for where, text := range map[string]string{"stderr": stderr, "log": logs.String(), "answer": body} {
		if strings.Contains(text, m[1]) {
			t.Errorf("the reset code appears in %s", where)
		}
	}
}
