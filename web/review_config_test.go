package web

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"edgebox/internal/config"
	"edgebox/internal/paths"
)

// Finding 4: a config change or restore silently opened management to
// the internet.
func TestReviewExposureRefused(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	tok := mintToken(t, e, "admin")
	set := func(settings string) (int, string) {
		return send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/set", ctype: "application/json", body: settings, hdr: bearer(tok)})
	}
	before, _ := os.ReadFile(paths.ConfigFile())
	for _, bad := range []struct{ settings, field string }{
		{`{"settings":{"web.interfaces":["*"]}}`, "web.interfaces[0]"},
		{`{"settings":{"web.interfaces":["lan*","eth*"]}}`, "web.interfaces[1]"},
		{`{"settings":{"network.firewall.management_tcp":[]}}`, "network.firewall.management_tcp"},
		{`{"settings":{"network.firewall.vpn_interfaces":["tun*","wwan*"]}}`, "network.firewall.vpn_interfaces[1]"},
		{`{"settings":{"network.firewall.open_tcp":["1-65535"]}}`, "network.firewall.open_tcp[0]"},
		{`{"settings":{"network.firewall.open_tcp":["443"]}}`, "network.firewall.open_tcp[0]"},
		{`{"settings":{"system.syslog":"203.0.113.7:514"}}`, "system.syslog"},
		{`{"settings":{"system.syslog":"logs.example.net:514"}}`, "system.syslog"},
		// The flag itself needs its own confirmation.
		{`{"settings":{"web.expose_management":true,"web.interfaces":["*"]}}`, "web.expose_management"},
	} {
		code, body := set(bad.settings)
		if code != 400 || !strings.Contains(body, `"field": "`+bad.field+`"`) {
			t.Errorf("%s: %d %s", bad.settings, code, body)
		}
	}
	if after, _ := os.ReadFile(paths.ConfigFile()); !bytes.Equal(before, after) {
		t.Fatal("a refused setting changed the config")
	}
	// A restore is held to the same rules.
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/restore", ctype: "application/json", hdr: bearer(tok),
		body: `{"edgebox_backup":"1","config":{"version":1,"web":{"interfaces":["*"]}}}`}); code != 400 || !strings.Contains(body, "web.interfaces") {
		t.Errorf("restore exposing the UI: %d %s", code, body)
	}
	// Logs to the VPN are fine.
	if code, body := set(`{"settings":{"system.syslog":"10.8.0.1:514"}}`); code != 200 {
		t.Fatalf("syslog to the VPN: %d %s", code, body)
	}
	// Confirmed, exposure is possible, and every page warns.
	if code, body := set(`{"settings":{"web.expose_management":true,"web.interfaces":["*"]},"confirm_expose":true}`); code != 200 {
		t.Fatalf("confirmed exposure: %d %s", code, body)
	}
	c := newJarClient(t)
	if code, body := send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"` + testPassword + `"}`, client: c}); code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	if code, body := send(t, req{method: "GET", url: e.ts.URL + "/dashboard", client: c}); code != 200 || !strings.Contains(body, `id="expose-warning"`) {
		t.Fatalf("dashboard without the exposure warning: %d", code)
	}
}

// Finding 4: backups were plaintext JSON with every secret, without an
// integrity check, and a restore applied at once.
func TestReviewBackupSealedRestoreConfirmed(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	setupAdmin(t, e)
	tok := mintToken(t, e, "admin")
	call := func(path, body string) (int, string) {
		return send(t, req{method: "POST", url: e.ts.URL + path, ctype: "application/json", body: body, hdr: bearer(tok)})
	}
	if code, body := call("/api/v1/config/set", `{"settings":{"system.timezone":"Europe/Berlin","gateway.trunk.password":"s3cret-trunk"}}`); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	if code, body := call("/api/v1/backup", `{"passphrase":"short"}`); code != 400 {
		t.Fatalf("backup with a short passphrase: %d %s", code, body)
	}
	code, backup := call("/api/v1/backup", `{"passphrase":"backup passphrase 1"}`)
	if code != 200 || strings.Contains(backup, "s3cret-trunk") || !strings.Contains(backup, `"integrity"`) || !strings.Contains(backup, "Europe/Berlin") {
		t.Fatalf("backup: %d\n%s", code, backup)
	}
	if code, body := call("/api/v1/config/set", `{"settings":{"system.timezone":"UTC"}}`); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	before, _ := os.ReadFile(paths.ConfigFile())
	restore := func(file, pass, confirm string) (int, ConfigResult, string) {
		b, _ := json.Marshal(RestoreRequest{Backup: json.RawMessage(file), Passphrase: pass, Confirm: confirm})
		code, body := call("/api/v1/restore", string(b))
		var res ConfigResult
		json.Unmarshal([]byte(body), &res)
		return code, res, body
	}
	tampered := strings.Replace(backup, "Europe/Berlin", "Europe/Paris", 1)
	for _, bad := range []struct{ file, pass, why string }{
		{backup, "", "no passphrase"},
		{backup, "wrong passphrase 1", "wrong passphrase"},
		{tampered, "backup passphrase 1", "changed after it was made"},
	} {
		if code, _, body := restore(bad.file, bad.pass, ""); code != 400 || !strings.Contains(body, "passphrase") {
			t.Errorf("restore with %s: %d %s", bad.why, code, body)
		}
	}
	// Checked: the changes are listed, nothing applied.
	code, res, body := restore(backup, "backup passphrase 1", "")
	if code != 200 || !res.NeedsConfirm || res.Confirm == "" || res.OK {
		t.Fatalf("restore check: %d %s", code, body)
	}
	var tz *ConfigChange
	for i := range res.Changes {
		if res.Changes[i].Path == "system.timezone" {
			tz = &res.Changes[i]
		}
	}
	if tz == nil || tz.Old != "UTC" || tz.New != "Europe/Berlin" || strings.Contains(body, "s3cret-trunk") {
		t.Fatalf("changes: %s", body)
	}
	if after, _ := os.ReadFile(paths.ConfigFile()); !bytes.Equal(before, after) {
		t.Fatal("an unconfirmed restore changed the config")
	}
	// A confirmation of another file does not apply this one.
	if code, res, _ := restore(backup, "backup passphrase 1", "0123456789abcdef0123456789abcdef"); code != 200 || !res.NeedsConfirm {
		t.Fatalf("restore with a stale confirmation applied: %d %+v", code, res)
	}
	// The page's way: a multipart form, checked then confirmed.
	ct, mp := multipartFile("backup", "b.json", []byte(backup), map[string]string{"passphrase": "backup passphrase 1", "confirm": res.Confirm})
	code, body = send(t, req{method: "POST", url: e.ts.URL + "/api/v1/restore", ctype: ct, body: string(mp), hdr: bearer(tok)})
	if code != 200 || !strings.Contains(body, `"ok": true`) {
		t.Fatalf("confirmed restore: %d %s", code, body)
	}
	c, _ := e.srv.loadConfig()
	if c.System.Timezone != "Europe/Berlin" || c.Gateway.Trunk.Password != "s3cret-trunk" {
		t.Fatalf("restored: %q %q", c.System.Timezone, c.Gateway.Trunk.Password)
	}
}

// A box updated from firmware without the exposure rules keeps its
// config and stays manageable: an old exposure does not block other
// changes (and the pages warn about it), but no new one may be added.
func TestReviewOldExposureKept(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	cfg := config.Default()
	cfg.System.Syslog = "logs.example.net:514"
	if err := config.Save(paths.ConfigFile(), cfg); err != nil {
		t.Fatalf("a config of older firmware must still load and save: %v", err)
	}
	setupAdmin(t, e)
	tok := mintToken(t, e, "admin")
	set := func(settings string) (int, string) {
		return send(t, req{method: "POST", url: e.ts.URL + "/api/v1/config/set", ctype: "application/json", body: settings, hdr: bearer(tok)})
	}
	if code, body := set(`{"settings":{"system.timezone":"Europe/Berlin"}}`); code != 200 {
		t.Fatalf("unrelated change: %d %s", code, body)
	}
	if code, body := set(`{"settings":{"network.firewall.open_tcp":["443"]}}`); code != 400 || !strings.Contains(body, "open_tcp") {
		t.Fatalf("new exposure: %d %s", code, body)
	}
	c := newJarClient(t)
	send(t, req{method: "POST", url: e.ts.URL + "/api/v1/login", ctype: "application/json", body: `{"username":"admin","password":"` + testPassword + `"}`, client: c})
	if code, body := send(t, req{method: "GET", url: e.ts.URL + "/dashboard", client: c}); code != 200 || !strings.Contains(body, `id="expose-warning"`) {
		t.Fatalf("no warning about the old exposure: %d", code)
	}
}
