package web

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// A config check's English, with its values, reads as what to do in
// English and in German; "field: " stays for the page to place it.
func TestTrMessage(t *testing.T) {
	for _, c := range []struct{ lang, in, want string }{
		{"de", `gateway.pbx.address: "pbx.example.com:99999" has no valid port`, `gateway.pbx.address: "pbx.example.com:99999" hat keinen gültigen Port: schreiben Sie Host oder Host:Port`},
		{"en", `"pbx.example.com:99999" has no valid port`, `has no valid port: write host or host:port with a port from 1 to 65535`},
		{"de", "must be 4 to 8 digits", "muss aus 4 bis 8 Ziffern bestehen, z. B. 1234"},
		{"en", "must be 4 to 8 digits", "must be 4 to 8 digits, e.g. 1234"},
		{"de", `"inter net": letters, digits, '.', '-' and '_' only, at most 100`, `"inter net" ist kein APN`},
		{"de", "0 is not a UDP port", "0 ist kein UDP-Port"},
		{"de", "file: the file is too large: at most 4 MiB can be uploaded here", "file: die Datei ist zu groß: hier können höchstens 4 MiB hochgeladen werden"},
		{"de", "something nobody translated", "something nobody translated"},
		{"de", "no answer in time: try again in a minute, and restart the service on the dashboard if it stays so", "keine Antwort"},
	} {
		if got := trMessage(c.lang, c.in); !strings.Contains(got, c.want) {
			t.Errorf("%s %q:\n got %q\nwant %q in it", c.lang, c.in, got, c.want)
		}
	}
}

// Through the config API on a German page: the config checks' errors are
// German and say what to do. Before, they were internal/config's English.
func TestConfigErrorsInGerman(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	res, _ := e.srv.setSettings(withLang(context.Background(), "de"), ConfigSet{Settings: map[string]any{
		"network.modem.pin": "12ab", "gateway.pbx.address": "pbx.example.com:99999",
	}})
	if res.OK || len(res.Errors) != 2 {
		t.Fatalf("got %+v", res)
	}
	for _, fe := range res.Errors {
		if !strings.Contains(fe.Message, "Ziffern") && !strings.Contains(fe.Message, "keinen gültigen Port") {
			t.Errorf("%s: %q is not German", fe.Field, fe.Message)
		}
	}
}

// An API error's text is in the language of the page that asked.
func TestAPIErrorInPageLanguage(t *testing.T) {
	e := newTestEnv(t, true, Options{Hostname: "edgebox-4f2a1c"})
	setupAdmin(t, e)
	code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json",
		body: `{"username":"admin","password":"wrong-wrong-wrong"}`, hdr: map[string]string{"Accept-Language": "de-DE,de;q=0.9"}})
	if code != 401 || !strings.Contains(body, "falscher Benutzername oder falsches Passwort") {
		t.Errorf("German login refusal: %d %s", code, body)
	}
}

// apiOnly are errors only API clients get (a page never sends such a
// request): they may stay English.
var apiOnly = []string{
	"only answered on the LAN or VPN interfaces", "give at least one path and value", "service name %q is not valid",
	"not a sequence number", "use 0..10000", "empty or overlong config path", "config path %q: %q is not a field name (lower case, digits, _ and [N])",
	"no IPv4 address", `send the first MiB of the bundle as the form's file \"file\"`, "", "send the body as application/json",
	"cannot listen on ", "malformed basic credentials", "unsupported Authorization scheme: use Bearer TOKEN", "not a service name",
	"bad path", "use %s for %s", "certificate expired on %s", "no such API endpoint: see docs/openapi.yaml", "no such setup step",
	`send a multipart form with the file in field \"profile\"`,
}

// Every error text web writes for a person has its German, with the same
// values: a German page showed "wrong reset code", "too many failed
// attempts … wait 60 s" and the SMS refusals in English.
func TestErrorTextsHaveGerman(t *testing.T) {
	lit := regexp.MustCompile(`(?:errors\.New|fmt\.Errorf)\("((?:[^"\\]|\\.)*)"`)
	field := regexp.MustCompile(`^[a-z_][a-z_0-9]*(?:\[\d+\])?(?:\.[a-z_0-9]+)*: `)
	files, _ := filepath.Glob("*.go")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.Contains(f, "gsm") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			msg := field.ReplaceAllString(m[1], "")
			if strings.HasPrefix(msg, "%") || strings.Contains(msg, "%w") || slices.Contains(apiOnly, msg) {
				continue
			}
			n++
			s, err := strconv.Unquote(`"` + msg + `"`)
			if err != nil {
				t.Fatalf("%s: %s: %v", f, msg, err)
			}
			de, ok := catalogs()["de"][s]
			if !ok {
				t.Errorf("%s: no German for %q", f, s)
				continue
			}
			if a, b := verbRE.FindAllString(s, -1), verbRE.FindAllString(de, -1); strings.Join(a, " ") != strings.Join(b, " ") {
				t.Errorf("%q: German %q has values %v, English %v", s, de, b, a)
			}
		}
	}
	if n < 40 {
		t.Fatalf("checked only %d texts: the pattern no longer matches the code", n)
	}
	// The lockout, with its seconds, reads in German.
	if got := trMessage("de", lockedOut(42*time.Second).Error()); !strings.Contains(got, "warten Sie 42 s") {
		t.Errorf("lockout in German: %q", got)
	}
}

// A wrong PIN is a failure the installer must act on, said in the page's
// language, not a wait: before, the check polled for 90 s ("still
// waiting") beside netctl's English.
func TestCheckWrongPINFails(t *testing.T) {
	st := Status{Network: &netapi.Status{Modem: &netapi.ModemStatus{State: "sim",
		SIM:   &modemapi.SIMStatus{State: "pin-required", PINAttempts: 2},
		Error: "the configured PIN was rejected by the SIM; enter the right PIN (2 attempts left)"}}}
	cfg := &config.Config{}
	cfg.Network.Modem.Enabled, cfg.Network.Modem.APN = true, "internet"
	if c := checkIn("de", st, cfg, "modem"); c.State != "fail" || c.Message != "die SIM hat die eingestellte PIN abgelehnt; geben Sie die richtige PIN ein (noch 2 Versuche)" {
		t.Errorf("wrong PIN: %+v", c)
	}
	st.Network.Modem = &netapi.ModemStatus{State: "faulty", Error: "the modem has no network interface; set network.modem.interface or method ppp"}
	if c := checkIn("en", st, cfg, "modem"); c.State != "fail" {
		t.Errorf("faulty modem: %+v", c)
	}
	st.Network.Modem = &netapi.ModemStatus{State: "connecting", Error: "no answer in time"}
	if c := checkIn("en", st, cfg, "modem"); c.State != "wait" {
		t.Errorf("connecting: %+v", c)
	}
}

// A PBX or an APN typed with its switch left off is not "ok": the step
// says the value is not used and which box to tick. Before, both read as
// a green "switched off" and the step got its tick (seen on the QEMU
// image with a PBX address saved and the gateway off).
func TestCheckValueWithSwitchOff(t *testing.T) {
	cfg := &config.Config{}
	cfg.Gateway.PBX.Address = "pbx.example.com"
	off := Status{Gateway: &gatewayapi.Status{Enabled: false}}
	if c := checkIn("de", off, cfg, "sip"); c.State != "fail" || !strings.Contains(c.Message, "Anruf-Gateway einschalten") {
		t.Errorf("PBX with the gateway off: %+v", c)
	}
	cfg.Network.Modem.APN = "internet"
	if c := checkIn("en", Status{}, cfg, "modem"); c.State != "fail" || !strings.Contains(c.Message, "tick “Use the mobile modem”") {
		t.Errorf("APN with the modem off: %+v", c)
	}
	if c := checkIn("en", Status{}, &config.Config{}, "modem"); c.State != "ok" {
		t.Errorf("modem off, no APN: %+v", c)
	}
}
