package web

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"edgebox/internal/sysapi"
)

type call struct {
	method, path string
	body         any
	bearer       string
	basic        [2]string
	csrf         string
}

func (e *testEnv) do(c *http.Client, cl call) (int, []byte) {
	e.t.Helper()
	var body io.Reader
	if cl.body != nil {
		b, _ := json.Marshal(cl.body)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(cl.method, e.ts.URL+cl.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+cl.bearer)
	}
	if cl.basic[0] != "" {
		req.SetBasicAuth(cl.basic[0], cl.basic[1])
	}
	if cl.csrf != "" {
		req.Header.Set(csrfHeader, cl.csrf)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *testEnv) want(c *http.Client, cl call, status int, out any) {
	e.t.Helper()
	got, b := e.do(c, cl)
	if got != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", cl.method, cl.path, got, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", cl.method, cl.path, err, b)
		}
	}
}

const testPassword = "correct horse battery"

// bootstrap sets the admin password and returns an API token.
func (e *testEnv) bootstrap() string {
	e.t.Helper()
	e.want(nil, call{method: "POST", path: "/api/v1/setup", body: SetupRequest{Password: testPassword}}, 201, nil)
	var tok NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", basic: [2]string{"admin", testPassword}, body: TokenRequest{Name: "test", Scope: ScopeAdmin}}, 201, &tok)
	if !strings.HasPrefix(tok.Token, "ebx_") {
		e.t.Fatalf("token %q", tok.Token)
	}
	return tok.Token
}

func TestHealthWithoutInit(t *testing.T) {
	e := newTestEnv(t, false, Options{Version: "v9"})
	var h Health
	e.want(nil, call{method: "GET", path: "/healthz"}, 200, &h)
	if !h.OK || len(h.Services) != 0 || h.Version != "v9" || h.Init == "" {
		t.Fatalf("health without init: %+v", h)
	}
}

func TestHealthWithInit(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	var h Health
	e.want(nil, call{method: "GET", path: "/healthz"}, 200, &h)
	if !h.OK || h.Board != "qemu" || h.Version != "test-1" || len(h.Services) != 2 || h.Services[1].Restarts != 1 || h.Services[0].PID != 10 {
		t.Fatalf("health: %+v", h)
	}
	e.init.mu.Lock()
	e.init.services[0].State = sysapi.StateBackoff
	e.init.mu.Unlock()
	e.want(nil, call{method: "GET", path: "/healthz"}, 200, &h)
	if h.OK {
		t.Fatal("health ok with a service in backoff")
	}
}

func TestBootstrapAndServicesAPI(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	// Before setup nothing but setup works.
	e.want(nil, call{method: "GET", path: "/api/v1/services"}, 401, nil)
	e.want(nil, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: "whatever1"}}, 409, nil)
	e.want(nil, call{method: "POST", path: "/api/v1/setup", body: SetupRequest{Password: "short"}}, 400, nil)
	tok := e.bootstrap()
	e.want(nil, call{method: "POST", path: "/api/v1/setup", body: SetupRequest{Password: "another password"}}, 409, nil)

	var svcs []sysapi.Service
	e.want(nil, call{method: "GET", path: "/api/v1/services", bearer: tok}, 200, &svcs)
	if len(svcs) != 2 || svcs[0].Name != "netctl" {
		t.Fatalf("services: %+v", svcs)
	}
	e.want(nil, call{method: "POST", path: "/api/v1/services/netctl/restart", bearer: tok}, 200, nil)
	e.want(nil, call{method: "POST", path: "/api/v1/services/nosuch/restart", bearer: tok}, 502, nil)
	e.want(nil, call{method: "POST", path: "/api/v1/services/..%2f..%2fetc/restart", bearer: tok}, 400, nil)
	var lines []sysapi.LogLine
	e.want(nil, call{method: "GET", path: "/api/v1/services/netctl/logs", bearer: tok}, 200, &lines)
	if len(lines) != 1 || lines[0].Text != "netctl: started" {
		t.Fatalf("logs: %+v", lines)
	}
	e.want(nil, call{method: "POST", path: "/api/v1/system/reboot", bearer: tok}, 202, nil)
	e.want(nil, call{method: "POST", path: "/api/v1/system/poweroff", bearer: tok}, 202, nil)
	e.init.mu.Lock()
	defer e.init.mu.Unlock()
	if strings.Join(e.init.restarts, ",") != "netctl" || strings.Join(e.init.power, ",") != "reboot,poweroff" {
		t.Fatalf("init saw restarts %v power %v", e.init.restarts, e.init.power)
	}
}

func TestLoginSessionCSRF(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	e.bootstrap()
	c := newJarClient(t)
	var si SessionInfo
	e.want(c, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 200, &si)
	if si.CSRFToken == "" {
		t.Fatal("no CSRF token")
	}
	// Reading needs the session only.
	e.want(c, call{method: "GET", path: "/api/v1/services"}, 200, nil)
	// Changing needs the CSRF token too.
	e.want(c, call{method: "POST", path: "/api/v1/tokens"}, 403, nil)
	e.want(c, call{method: "POST", path: "/api/v1/tokens", csrf: "wrong" + si.CSRFToken}, 403, nil)
	e.want(c, call{method: "POST", path: "/api/v1/services/netctl/restart", csrf: si.CSRFToken[:10]}, 403, nil)
	e.want(c, call{method: "POST", path: "/api/v1/tokens", csrf: si.CSRFToken}, 201, nil)
	e.want(c, call{method: "POST", path: "/api/v1/logout", csrf: si.CSRFToken}, 200, nil)
	e.want(c, call{method: "GET", path: "/api/v1/services"}, 401, nil)
}

func TestAPIRefusesBadTokens(t *testing.T) {
	e := newTestEnv(t, true, Options{MaxFailures: 100})
	tok := e.bootstrap()
	for _, bad := range []string{"", "ebx_nope", tok + "x", tok[:len(tok)-1]} {
		code, _ := e.do(nil, call{method: "GET", path: "/api/v1/services", bearer: bad})
		if code != 401 {
			t.Errorf("token %q: status %d, want 401", bad, code)
		}
	}
	e.want(nil, call{method: "GET", path: "/api/v1/services", basic: [2]string{"admin", "wrong password"}}, 401, nil)
	e.want(nil, call{method: "GET", path: "/api/v1/services", basic: [2]string{"root", testPassword}}, 401, nil)
	e.want(nil, call{method: "GET", path: "/api/v1/services", bearer: tok}, 200, nil)
}

func TestLockout(t *testing.T) {
	e := newTestEnv(t, false, Options{MaxFailures: 3})
	e.bootstrap()
	for i := 0; i < 3; i++ {
		e.want(nil, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: "guess" + strings.Repeat("x", i+3)}}, 401, nil)
	}
	// Now even the right password is refused from this address.
	e.want(nil, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 429, nil)
	e.want(nil, call{method: "GET", path: "/api/v1/services", basic: [2]string{"admin", testPassword}}, 429, nil)
}
