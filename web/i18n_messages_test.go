package web

import (
	"context"
	"strings"
	"testing"
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
