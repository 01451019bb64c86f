package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"edgebox/internal/testenv"
)

// TestBrowserRestoreAndReset drives Chromium through the pages the
// security review added: a restore that lists its changes before it is
// applied, API tokens with scopes, and the password reset with the code
// from the console.
func TestBrowserRestoreAndReset(t *testing.T) {
	var mu sync.Mutex
	var code string
	old := printResetCode
	printResetCode = func(c string, _ time.Time) { mu.Lock(); code = c; mu.Unlock() }
	t.Cleanup(func() { printResetCode = old })

	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	setupAdmin(t, e)
	tok := mintToken(t, e, "admin")
	set := func(settings string) {
		if c, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/set", ctype: "application/json", body: settings, hdr: bearer(tok)}); c != 200 {
			t.Fatalf("set: %d %s", c, body)
		}
	}
	set(`{"settings":{"system.timezone":"Europe/Berlin"}}`)
	c, backup := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/backup", ctype: "application/json", body: `{"passphrase":"browser passphrase"}`, hdr: bearer(tok)})
	if c != 200 {
		t.Fatalf("backup: %d %s", c, backup)
	}
	file := filepath.Join(t.TempDir(), "edgebox-backup.json")
	os.WriteFile(file, []byte(backup), 0o600)
	set(`{"settings":{"system.timezone":"UTC"}}`)

	_, httpsURL := liveServer(t, e)
	dir := screenshotDir(t)
	ctx := browser(t)
	run := func(name string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, acts...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	run("login",
		chromedp.Navigate(httpsURL+"/login?next=/admin"),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#pw"), testPassword),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#restore-form")),
	)
	run("restore: check",
		chromedp.SetUploadFiles(chromedp.CSS("#backup"), []string{file}),
		chromedp.SendKeys(chromedp.CSS("#rpass"), "browser passphrase"),
		chromedp.Click(chromedp.CSS("#restore-submit")),
		waitText("#restore-changes", "system.timezone"),
		waitText("#restore-submit", "Apply"),
		shot(dir, "11-restore-changes", false),
	)
	if cfg, _ := e.srv.loadConfig(); cfg.System.Timezone != "UTC" {
		t.Fatalf("restore applied before the confirmation: %q", cfg.System.Timezone)
	}
	run("restore: apply",
		chromedp.Click(chromedp.CSS("#restore-submit")),
		waitText("#restore-form .notice", "Restored and applied"),
	)
	if cfg, _ := e.srv.loadConfig(); cfg.System.Timezone != "Europe/Berlin" {
		t.Fatalf("restore not applied: %q", cfg.System.Timezone)
	}
	run("token with a scope",
		chromedp.Navigate(httpsURL+"/admin"),
		chromedp.SendKeys(chromedp.CSS("#tokname"), "grafana"),
		chromedp.SetValue(chromedp.CSS("#tokscope"), "read"),
		chromedp.Click(chromedp.CSS(`form[data-action="/api/v1/tokens"] button`)),
		waitText(`form[data-action="/api/v1/tokens"] .notice`, "Token created"),
		chromedp.Navigate(httpsURL+"/admin"),
		waitText("#token-table", "grafana"),
		shot(dir, "12-admin-tokens", false),
	)
	if row := textOf(ctx, "#token-table tbody tr:last-child"); !strings.Contains(row, "read") || !strings.Contains(row, "Revoke") {
		t.Errorf("token row: %q", row)
	}

	// Log out; reset the password with the code from the console.
	run("reset",
		chromedp.Click(chromedp.CSS("header form button")),
		chromedp.WaitVisible(chromedp.CSS("#login-submit")),
		chromedp.Navigate(httpsURL+"/reset"),
		chromedp.Click(chromedp.CSS("#ask-code")),
		waitText("#code-notice", "serial console"),
	)
	mu.Lock()
	rc := code
	mu.Unlock()
	if rc == "" || strings.Contains(textOf(ctx, "main"), rc) {
		t.Fatalf("reset code %q (must be printed on the console, never shown in the page)", rc)
	}
	run("reset: new password",
		chromedp.SendKeys(chromedp.CSS("#code"), rc),
		chromedp.SendKeys(chromedp.CSS("#pw"), "reset at the box 1"),
		chromedp.SendKeys(chromedp.CSS("#pw2"), "reset at the box 1"),
		shot(dir, "13-reset", true),
		chromedp.Click(chromedp.CSS("#reset-submit")),
		chromedp.WaitVisible(chromedp.CSS("#card-services")),
	)
	if !e.srv.accounts.Check(AdminUser, "reset at the box 1") {
		t.Fatal("password not reset")
	}
}

// TestBrowserForeignPagesCannotTakeOver is finding 1 with a real browser:
// a page of another site that a LAN browser opens sends the first
// password with a no-cors fetch (text/plain, as the review did), and a
// page whose name rebinds to the box (Chromium's resolver maps
// evil.example to the box) tries the API as "same-origin". Neither may
// set the password nor read anything.
func TestBrowserForeignPagesCannotTakeOver(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	httpURL, httpsURL := liveServer(t, e)
	boxPort := strings.TrimPrefix(httpsURL, "https://127.0.0.1:")
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>cat pictures</title><script>
window.result = Promise.all([
  fetch(%q, {method: "POST", mode: "no-cors", body: '{"password":"attacker-password-1"}'}).then(() => "sent", e => "error"),
  fetch(%q, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: '{"password":"attacker-password-2"}'}).then(() => "sent", e => "error"),
]).then(r => r.join(","));
</script>`, httpsURL+"/api/v1/setup", httpURL+"/api/v1/setup")
	}))
	t.Cleanup(attacker.Close)
	ctx := browser(t, chromedp.Flag("host-resolver-rules", "MAP evil.example 127.0.0.1, MAP attacker.example 127.0.0.1"))
	attackerURL := strings.Replace(attacker.URL, "127.0.0.1", "attacker.example", 1)
	if err := chromedp.Do(ctx, chromedp.Navigate(attackerURL+"/")); err != nil {
		t.Fatal(err)
	}
	sent, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.result`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("foreign page's requests: %s", sent)
	if e.srv.accounts.HasAdmin() {
		t.Fatal("a page of another site set the first admin password")
	}
	// DNS rebinding: the browser now believes evil.example is the box.
	evil := "https://evil.example:" + boxPort
	if err := chromedp.Do(ctx, chromedp.Navigate(evil+"/setup")); err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/api/v1/setup", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"password":"attacker-password-3"}'}).then(r => String(r.status))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if e.srv.accounts.HasAdmin() || status != "421" {
		t.Fatalf("rebound page: setup answered %s, admin set: %v", status, e.srv.accounts.HasAdmin())
	}
	// Once the installer has set the password, the rebound page still
	// cannot log in, even knowing it.
	setupAdmin(t, e)
	status, err = chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/api/v1/login", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"username":"admin","password":"`+testPassword+`"}'}).then(r => String(r.status))`, chromedp.EvalAwaitPromise))
	if err != nil || status != "421" {
		t.Fatalf("rebound page: login answered %s (%v)", status, err)
	}
}

// After 5 wrong passwords the login page says how long to wait, counts
// down, and points to the reset (issue 24 item 5, finding 5).
func TestBrowserLockoutCountdown(t *testing.T) {
	e := newTestEnv(t, false, Options{Lockout: time.Minute})
	setupAdmin(t, e)
	_, httpsURL := liveServer(t, e)
	ctx := browser(t)
	acts := []chromedp.Action[chromedp.Void]{chromedp.Navigate(httpsURL + "/login"), chromedp.WaitVisible(chromedp.CSS("#login-submit"))}
	failed := func(n int) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			return testenv.Until(20*time.Second, fmt.Sprintf("login %d answered", n),
				testenv.Cond(func() bool { return e.srv.limiter.attempts("127.0.0.1") >= n }))
		})
	}
	for i := 0; i < 5; i++ {
		acts = append(acts, chromedp.SetValue(chromedp.CSS("#pw"), fmt.Sprintf("wrong password %d", i)), chromedp.Click(chromedp.CSS("#login-submit")),
			waitText("form .notice", "wrong user name or password"), failed(i+1))
	}
	acts = append(acts, chromedp.SetValue(chromedp.CSS("#pw"), testPassword), chromedp.Click(chromedp.CSS("#login-submit")),
		waitText("form .notice", "wait"))
	if err := chromedp.Do(ctx, acts...); err != nil {
		t.Fatal(err)
	}
	first := textOf(ctx, "form .notice")
	if err := chromedp.Do(ctx, chromedp.Sleep(2500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	later := textOf(ctx, "form .notice")
	sec := func(s string) int {
		var n int
		if i := strings.Index(s, "wait "); i >= 0 {
			fmt.Sscanf(s[i+5:], "%d", &n)
		}
		return n
	}
	if sec(first) < 50 || sec(later) >= sec(first) || !strings.Contains(later, "reset") {
		t.Fatalf("lockout notice %q then %q", first, later)
	}
	if !strings.Contains(textOf(ctx, "main"), "Forgot the password?") {
		t.Error("no way to the reset from the login page")
	}
}

// attempts is how many failed attempts the limiter holds for addr (a
// locked source counts as the limit).
func (l *loginLimiter) attempts(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.bySrc[sourceOf(addr)]
	switch {
	case f == nil:
		return 0
	case time.Now().Before(f.until):
		return l.maxFailures
	}
	return f.count
}
