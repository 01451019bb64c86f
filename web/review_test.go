package web

// Attacks from the security review (issue 15), each performed for real
// against the server over HTTP. These use only the HTTP API, so they run
// unchanged against older code to show the hole.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// req is one raw request: host overrides the Host header, from picks the
// loopback source address.
type req struct {
	method, url, host, ctype, body string
	hdr                            map[string]string
	from                           string
	client                         *http.Client
}

func send(t *testing.T, r req) (int, string) {
	t.Helper()
	hr, err := http.NewRequest(r.method, r.url, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.body == "" {
		hr.Body, hr.ContentLength = nil, 0
	}
	if r.host != "" {
		hr.Host = r.host
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	c := r.client
	if c == nil {
		c = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if r.from != "" {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(r.from)}}
		tr.DialContext = func(ctx context.Context, n, a string) (net.Conn, error) { return d.DialContext(ctx, n, a) }
		c = &http.Client{Timeout: 20 * time.Second, Transport: tr, Jar: c.Jar, CheckRedirect: c.CheckRedirect}
		defer tr.CloseIdleConnections()
	}
	resp, err := c.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func basicAuth(pw string) map[string]string {
	hr, _ := http.NewRequest("GET", "/", nil)
	hr.SetBasicAuth("admin", pw)
	return map[string]string{"Authorization": hr.Header.Get("Authorization")}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// mintToken makes a token with the given scope over Basic auth.
func mintToken(t *testing.T, e *testEnv, scope string) string {
	t.Helper()
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/tokens", ctype: "application/json", body: `{"name":"t-` + scope + `","scope":"` + scope + `"}`, hdr: basicAuth(testPassword)})
	var tok struct{ Token string }
	json.Unmarshal([]byte(body), &tok)
	if code != 201 || tok.Token == "" {
		t.Fatalf("token with scope %s: %d %s", scope, code, body)
	}
	return tok.Token
}

func setupAdmin(t *testing.T, e *testEnv) {
	t.Helper()
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/setup", ctype: "application/json", body: `{"password":"` + testPassword + `"}`}); code != 201 {
		t.Fatalf("setup: %d %s", code, body)
	}
}

// Finding 1: before a password exists, any page a LAN browser opens could
// set it (text/plain no-cors fetch), and a page whose name rebinds to the
// box could use the API afterwards.
func TestReviewFirstBootTakeoverRefused(t *testing.T) {
	e := newTestEnv(t, false, Options{Hostname: "edgebox-test"})
	u := e.ts.URL + "/api/v1/setup"
	port := e.ts.Listener.Addr().(*net.TCPAddr).Port
	evil := fmt.Sprintf("evil.example:%d", port)
	attacks := []req{
		// no-cors fetch from another site: text/plain, foreign Origin.
		{method: "POST", url: u, ctype: "text/plain;charset=UTF-8", body: `{"password":"attacker-password-1"}`, hdr: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}},
		// text/plain without Origin (older browsers, form posts).
		{method: "POST", url: u, ctype: "text/plain", body: `{"password":"attacker-password-1"}`},
		// a form post (url-encoded) is no JSON either.
		{method: "POST", url: u, ctype: "application/x-www-form-urlencoded", body: `{"password":"attacker-password-1"}=`},
		// a sandboxed frame of another site: Origin null.
		{method: "POST", url: u, ctype: "application/json", body: `{"password":"attacker-password-1"}`, hdr: map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}},
		{method: "POST", url: u, ctype: "application/json", body: `{"password":"attacker-password-1"}`, hdr: map[string]string{"Origin": "null"}},
		// JSON with a foreign Origin.
		{method: "POST", url: u, ctype: "application/json", body: `{"password":"attacker-password-1"}`, hdr: map[string]string{"Origin": "http://evil.example"}},
		// DNS rebinding: the page's own name now points at the box, so
		// the browser sends Host and Origin of the attacker's name.
		{method: "POST", url: u, host: evil, ctype: "application/json", body: `{"password":"attacker-password-1"}`, hdr: map[string]string{"Origin": "http://" + evil, "Sec-Fetch-Site": "same-origin"}},
	}
	for i, a := range attacks {
		if code, body := send(t, a); code < 400 {
			t.Errorf("attack %d set the first password: %d %s", i, code, body)
		}
		if e.srv.accounts.HasAdmin() {
			t.Fatalf("attack %d: the admin password is set", i)
		}
	}
	// The installer, on the box's own page, still can.
	if code, body := send(t, req{method: "POST", url: u, host: fmt.Sprintf("edgebox-test:%d", port), ctype: "application/json", body: `{"password":"` + testPassword + `"}`,
		hdr: map[string]string{"Origin": fmt.Sprintf("http://edgebox-test:%d", port), "Sec-Fetch-Site": "same-origin"}}); code != 201 {
		t.Fatalf("setup from the box's own page: %d %s", code, body)
	}
	// Later, the rebound page can neither log in nor use Basic auth, nor
	// read anything.
	for i, a := range []req{
		{method: "POST", url: e.ts.URL + "/api/v1/login", host: evil, ctype: "application/json", body: `{"username":"admin","password":"` + testPassword + `"}`, hdr: map[string]string{"Origin": "http://" + evil}},
		{method: "POST", url: e.ts.URL + "/api/v1/tokens", host: evil, ctype: "application/json", body: `{"name":"x"}`, hdr: basicAuth(testPassword)},
		{method: "GET", url: e.ts.URL + "/api/v1/config", host: evil, hdr: basicAuth(testPassword)},
		{method: "GET", url: e.ts.URL + "/healthz", host: evil},
		{method: "GET", url: e.ts.URL + "/login", host: evil},
	} {
		if code, body := send(t, a); code < 400 {
			t.Errorf("rebound request %d answered: %d %.200s", i, code, body)
		}
	}
	// By address, as installers and edgectl use it, all works.
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"` + testPassword + `"}`}); code != 200 {
		t.Fatalf("login by address: %d %s", code, body)
	}
}

// Finding 11: /login?next=/%09/evil.example/x sent the browser to
// https://evil.example/x after the login (browsers drop the tab).
func TestReviewOpenRedirectAfterLogin(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	setupAdmin(t, e)
	next := regexp.MustCompile(`data-next="([^"]*)"`)
	for _, p := range []string{"/%09/evil.example/x", "/%0a/evil.example", "/%0d/evil.example", "/%5Cevil.example", "/\\evil.example", "//evil.example", "https://evil.example", "/%20/evil.example", "/.%2e/x"} {
		code, body := send(t, req{method: "GET", url: e.ts.URL + "/login?next=" + p})
		m := next.FindStringSubmatch(body)
		if code != 200 || m == nil {
			t.Fatalf("login page for next=%s: %d", p, code)
		}
		got := html.UnescapeString(m[1])
		if !regexp.MustCompile(`^/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$`).MatchString(got) {
			t.Errorf("next=%s: the login sends the browser to %q", p, got)
		}
	}
	code, body := send(t, req{method: "GET", url: e.ts.URL + "/login?next=/wizard/vpn"})
	if m := next.FindStringSubmatch(body); code != 200 || m == nil || m[1] != "/wizard/vpn" {
		t.Errorf("a local next is kept: %v", m)
	}
}

// Finding 16: a CSRF token in the URL was accepted.
func TestReviewCSRFInQueryRefused(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	c := newJarClient(t)
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/setup", ctype: "application/json", body: `{"password":"` + testPassword + `"}`, client: c})
	var si SessionInfo
	if json.Unmarshal([]byte(body), &si); code != 201 || si.CSRFToken == "" {
		t.Fatalf("setup: %d %s", code, body)
	}
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/services/netctl/restart?csrf=" + si.CSRFToken, client: c}); code != 403 {
		t.Fatalf("CSRF token in the query accepted: %d %s", code, body)
	}
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/services/netctl/restart", client: c, hdr: map[string]string{csrfHeader: si.CSRFToken}}); code != 200 {
		t.Fatalf("CSRF token in the header: %d %s", code, body)
	}
}

// Finding 16: /metrics answered anyone on the LAN.
func TestReviewMetricsNeedLogin(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	if code, body := send(t, req{method: "GET", url: e.ts.URL + "/metrics"}); code != 401 {
		t.Fatalf("metrics without credentials: %d %.200s", code, body)
	}
	tok := mintToken(t, e, "read")
	if code, body := send(t, req{method: "GET", url: e.ts.URL + "/metrics", hdr: bearer(tok)}); code != 200 || !strings.Contains(body, "edgebox_component_up") {
		t.Fatalf("metrics with a read token: %d %.200s", code, body)
	}
}

// Finding 16: 8-character passwords were accepted.
func TestReviewShortPasswordRefused(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	for _, pw := range []string{"12345678", "elevenchars"} {
		if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/setup", ctype: "application/json", body: `{"password":"` + pw + `"}`}); code != 400 || !strings.Contains(body, "at least 12") {
			t.Errorf("password %q: %d %s", pw, code, body)
		}
	}
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/setup", ctype: "application/json", body: `{"password":"twelve-chars"}`}); code != 201 {
		t.Errorf("12 characters: %d %s", code, body)
	}
}

// Finding 5: one global bucket of 30 a minute covered logins, Basic and
// valid Bearer calls: six LAN hosts with five wrong guesses each, or a
// script's 30 token calls, locked the admin out.
func TestReviewLockoutPerSource(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/tokens", ctype: "application/json", body: `{"name":"script"}`, hdr: basicAuth(testPassword)})
	var nt struct{ Token string }
	if json.Unmarshal([]byte(body), &nt); code != 201 {
		t.Fatalf("token: %d %s", code, body)
	}
	tok := nt.Token
	for i := 0; i < 45; i++ {
		if code, body := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/services", hdr: bearer(tok)}); code != 200 {
			t.Fatalf("valid token call %d: %d %s", i+1, code, body)
		}
	}
	login := func(from, pw string) int {
		code, _ := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", from: from, ctype: "application/json", body: `{"username":"admin","password":"` + pw + `"}`})
		return code
	}
	for h := 2; h <= 7; h++ {
		for i := 0; i < 5; i++ {
			if code := login(fmt.Sprintf("127.0.0.%d", h), "wrong guess number"); code != 401 {
				t.Fatalf("guess %d from 127.0.0.%d: %d", i, h, code)
			}
		}
	}
	// The guessers are slowed down...
	if code := login("127.0.0.3", testPassword); code != 429 {
		t.Errorf("a guessing source may go on: %d", code)
	}
	// ...the admin elsewhere is not, nor is a valid token.
	if code := login("127.0.0.1", testPassword); code != 200 {
		t.Fatalf("admin locked out by others' guesses: %d", code)
	}
	if code, body := send(t, req{method: "GET", url: e.ts.URL + "/api/v1/services", from: "127.0.0.3", hdr: bearer(tok)}); code != 200 {
		t.Fatalf("valid token from a slowed source: %d %s", code, body)
	}
}

// Finding 6: the first-boot form, login and the API were served over
// plain HTTP.
func TestReviewPlainHTTPOnlyHealthAndFingerprint(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	hs := httptest.NewServer(e.srv.HTTPHandler())
	t.Cleanup(hs.Close)
	code, body := send(t, req{method: "GET", url: hs.URL + "/"})
	if code != 200 || !strings.Contains(body, e.srv.Fingerprint()) || !strings.Contains(body, "https://") || strings.Contains(body, "/api/v1/setup") || strings.Contains(body, `type="password"`) {
		t.Fatalf("HTTP start page: %d\n%s", code, body)
	}
	if code, _ := send(t, req{method: "GET", url: hs.URL + "/healthz"}); code != 200 {
		t.Fatalf("healthz over HTTP: %d", code)
	}
	if code, body := send(t, req{method: "POST", url: hs.URL + "/api/v1/setup", ctype: "application/json", body: `{"password":"` + testPassword + `"}`}); code < 400 || e.srv.accounts.HasAdmin() {
		t.Fatalf("first password set over plain HTTP: %d %s", code, body)
	}
	setupAdmin(t, e) // over HTTPS (the test's TLS stand-in)
	for _, r := range []req{
		{method: "POST", url: hs.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"` + testPassword + `"}`},
		{method: "GET", url: hs.URL + "/api/v1/services", hdr: basicAuth(testPassword)},
		{method: "GET", url: hs.URL + "/metrics", hdr: basicAuth(testPassword)},
	} {
		if code, body := send(t, r); code < 400 {
			t.Errorf("%s %s over HTTP: %d %.100s", r.method, r.url, code, body)
		}
	}
	for _, p := range []string{"/login", "/setup", "/dashboard"} {
		hr, _ := http.NewRequest("GET", hs.URL+p, nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, "https://") {
			t.Errorf("%s over HTTP: %d -> %q", p, resp.StatusCode, loc)
		}
	}
}

// The start page on plain HTTP links to HTTPS on the host and port the
// browser used, and that port answers HTTPS: right behind port
// forwarding too (issue 24 item 2), where the outside HTTPS port is
// unknown to the box.
func TestReviewHTTPSLinkOnTheRequestPort(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	httpURL, _ := liveServer(t, e)
	code, body := send(t, req{method: "GET", url: httpURL + "/"})
	want := "https://" + strings.TrimPrefix(httpURL, "http://") + "/"
	if code != 200 || !strings.Contains(body, `href="`+want+`"`) {
		t.Fatalf("start page: %d, want a link to %s:\n%s", code, want, body)
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(want + "setup")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || !strings.Contains(string(b), "setup-submit") {
		t.Fatalf("HTTPS on the HTTP port: %d %v", resp.StatusCode, resp.TLS != nil)
	}
}

// edgectl over the VPN streams a bundle as application/octet-stream (a type
// no foreign page can send without a preflight): the guard lets it through
// to the firmware upload, and still refuses what a page can send.
func TestReviewRawBundleUploadPassesTheGuard(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	setupAdmin(t, e)
	u := e.ts.URL + "/api/v1/firmware/inspect"
	if code, body := send(t, req{method: "POST", url: u, ctype: "application/octet-stream", body: "not a bundle", hdr: basicAuth(testPassword)}); code == http.StatusUnsupportedMediaType {
		t.Errorf("raw bundle upload refused by the guard: %d %s", code, body)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded"} {
		if code, body := send(t, req{method: "POST", url: u, ctype: ct, body: "not a bundle", hdr: basicAuth(testPassword)}); code != http.StatusUnsupportedMediaType {
			t.Errorf("%s upload: %d %s, want 415", ct, code, body)
		}
	}
}
