package web

import (
	"encoding/json"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/api/gatewayapi"
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

// TestDashboardSaysTheConfigWasDamaged: when init found the config file
// damaged and the services run on the previous version (or /perm is not
// mounted), the dashboard says so; before, only /api/v1/system had it.
func TestDashboardSaysTheConfigWasDamaged(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-test"})
	note := "/perm/edgebox/config.json is damaged (empty, 0 bytes): running on the previous settings (/perm/edgebox/config.json.prev); save the settings again to store them whole"
	e.init.configNote = note
	e.bootstrap()
	c := newJarClient(t)
	e.want(c, call{method: "POST", path: "/api/v1/login", body: LoginRequest{Username: "admin", Password: testPassword}}, 200, nil)
	code, raw := e.do(c, call{method: "GET", path: "/dashboard"})
	if page := html.UnescapeString(string(raw)); code != 200 || !strings.Contains(page, note) {
		t.Errorf("the dashboard (%d) does not say the config was damaged", code)
	}
}

// TestDashboardShowsTrunkRegisteredUntil: the gateway reports until when
// the PBX granted the trunk's registration (registered_until), and only
// edgectl and the API showed it; the dashboard's trunk panel has it now,
// in the page's language. Without a registration there is no line.
func TestDashboardShowsTrunkRegisteredUntil(t *testing.T) {
	until := time.Date(2026, 12, 7, 23, 14, 5, 0, time.UTC)
	st := Status{Gateway: &gatewayapi.Status{Enabled: true, PBX: "pbx.example.com:5060", Registration: "registered", RegisteredUntil: until}}
	for lang, label := range map[string]string{"en": "Registered until", "de": "Angemeldet bis"} {
		p, _ := gatewayPanel(lang, st)
		want := [2]string{label, until.Local().Format("2006-01-02 15:04:05")}
		if !slices.Contains(p.Lines, want) {
			t.Errorf("%s: the trunk panel %v lacks %v", lang, p.Lines, want)
		}
	}
	st.Gateway.Registration, st.Gateway.RegisteredUntil = "registering", time.Time{}
	p, _ := gatewayPanel("en", st)
	for _, l := range p.Lines {
		if l[0] == "Registered until" {
			t.Errorf("a trunk not registered shows %v", l)
		}
	}
}
