package web

import (
	"encoding/json"
	"html"
	"strings"
	"testing"

	"edgebox/internal/sysapi"
)

// TestDashboardShowsWhyAServiceCrashLoops: a crash-looping service shows
// its last error line beside "exit status 1" on the dashboard and in the
// services API, so the admin need not open the log to learn why.
func TestDashboardShowsWhyAServiceCrashLoops(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-test"})
	why := `level=ERROR msg="gateway: listen" err="listen udp :5060: bind: address already in use"`
	e.init.services = append(e.init.services, sysapi.Service{Name: "gateway", State: sysapi.StateFailed, Restarts: 5, LastExit: "exit status 1", LastError: why})
	e.bootstrap()
	c := newJarClient(t)
	e.want(c, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 200, nil)
	code, raw := e.do(c, call{method: "GET", path: "/dashboard"})
	page := html.UnescapeString(string(raw))
	if code != 200 || !strings.Contains(page, "exit status 1") || !strings.Contains(page, why) {
		t.Errorf("the dashboard (%d) does not say why gateway crash-loops (want %q)", code, why)
	}
	code, raw = e.do(c, call{method: "GET", path: "/api/v1/services"})
	var svcs []sysapi.Service
	json.Unmarshal(raw, &svcs)
	found := false
	for _, s := range svcs {
		found = found || s.Name == "gateway" && s.LastError == why
	}
	if code != 200 || !found {
		t.Errorf("/api/v1/services (%d) lacks gateway's last_error: %s", code, raw)
	}
}
