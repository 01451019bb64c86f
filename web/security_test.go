package web

import (
	"bytes"
	"edgebox/internal/update"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/internal/paths"
	"edgebox/netctl/openvpn"
)

func (e *testEnv) raw(method, path, ctype string, body []byte, hdr map[string]string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func multipartFile(field, name string, data []byte, extra map[string]string) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range extra {
		mw.WriteField(k, v)
	}
	w, _ := mw.CreateFormFile(field, name)
	w.Write(data)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestPathTraversalRefused(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	tok := e.bootstrap()
	auth := map[string]string{"Authorization": "Bearer " + tok}
	// A file outside the run directory that must never be reached.
	for _, p := range []string{
		"/api/v1/services/..%2F..%2Fetc/logs",
		"/api/v1/services/a%2Fb/restart",
		"/api/v1/local/..%2Finit/v1/system",
		"/api/v1/local/init/..%2F..%2Fetc%2Fpasswd",
		"/static/..%2F..%2Fserver.go",
		"/static/../../server.go",
	} {
		code, body := e.raw("GET", p, "", nil, auth)
		if code == 200 || strings.Contains(body, "package web") || strings.Contains(body, "root:") {
			t.Errorf("%s: %d %q", p, code, body)
		}
	}
	// Config paths are names, never file paths.
	for _, p := range []string{"../secrets", "network/../../x", "a..b", "network.modem.apn/..", "network.lan[99999]"} {
		code, _ := e.raw("GET", "/api/v1/config?path="+p, "", nil, auth)
		if code != 404 {
			t.Errorf("config path %q: %d", p, code)
		}
	}
	// Proxy to a socket that does not exist: 503, not a dial anywhere else.
	if code, _ := e.raw("GET", "/api/v1/local/nosuch/v1/status", "", nil, auth); code != 503 {
		t.Errorf("proxy to missing service: %d", code)
	}
	// The proxy works for a real socket.
	var sys map[string]any
	e.want(nil, call{method: "GET", path: "/api/v1/local/init/v1/system", bearer: tok}, 200, &sys)
	if sys["board"] != "qemu" {
		t.Fatalf("proxy: %v", sys)
	}
}

func TestOversizedUploadsRefused(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	tok := e.bootstrap()
	auth := map[string]string{"Authorization": "Bearer " + tok}
	before, _ := os.ReadFile(paths.ConfigFile())

	big := bytes.Repeat([]byte(" "), MaxBackupSize+10)
	if code, body := e.raw("POST", "/api/v1/restore", "application/json", big, auth); code != 413 {
		t.Errorf("restore of %d bytes: %d %s", len(big), code, body)
	}
	ct, body := multipartFile("profile", "x.ovpn", append([]byte("remote a 1\n"), bytes.Repeat([]byte("#"), openvpn.MaxUploadSize+100<<10)...), nil)
	if code, b := e.raw("POST", "/api/v1/vpn/profile", ct, body, auth); code != 413 {
		t.Errorf("VPN profile too large: %d %s", code, b)
	}
	old := MaxFirmware
	MaxFirmware = 4096
	defer func() { MaxFirmware = old }()
	img := make([]byte, 8192)
	img[510], img[511] = 0x55, 0xAA
	ct, body = multipartFile("firmware", "fw.img", img, nil)
	if code, b := e.raw("POST", "/api/v1/firmware", ct, body, auth); code != 413 {
		t.Errorf("firmware too large: %d %s", code, b)
	}
	if _, err := os.Stat(filepath.Join(paths.DataDir(), "firmware", "pending.bin")); err == nil {
		t.Error("an oversized firmware was kept")
	}
	after, _ := os.ReadFile(paths.ConfigFile())
	if !bytes.Equal(before, after) {
		t.Error("a refused upload changed the config")
	}
}

// The web checks an upload is a bundle before handing it to init, which
// verifies signature, board and hashes and installs it (the QEMU update
// tests in image/ cover that path end to end).
func TestFirmwareVerified(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	tok := e.bootstrap()
	auth := map[string]string{"Authorization": "Bearer " + tok}
	img := make([]byte, 4096)
	img[510], img[511] = 0x55, 0xAA // a disk image is not an update bundle
	ct, body := multipartFile("firmware", "fw.img", img, nil)
	if code, b := e.raw("POST", "/api/v1/firmware", ct, body, auth); code != 400 || !strings.Contains(b, "not an edgebox firmware update") {
		t.Errorf("disk image accepted as a bundle: %d %s", code, b)
	}
	ct, body = multipartFile("firmware", "notes.txt", []byte("hello, not firmware"), nil)
	if code, b := e.raw("POST", "/api/v1/firmware", ct, body, auth); code != 400 {
		t.Errorf("text file accepted as firmware: %d %s", code, b)
	}
	bundle := append([]byte(update.Magic), make([]byte, 1024)...)
	ct, body = multipartFile("firmware", "edgebox.bundle", bundle, map[string]string{"sha256": "xyz"})
	if code, b := e.raw("POST", "/api/v1/firmware", ct, body, auth); code != 400 || !strings.Contains(b, "sha256") {
		t.Errorf("malformed checksum accepted: %d %s", code, b)
	}
	// No init to install it here: refused with a message, nothing kept.
	ct, body = multipartFile("firmware", "edgebox.bundle", bundle, nil)
	if code, b := e.raw("POST", "/api/v1/firmware", ct, body, auth); code < 400 || !strings.Contains(b, "firmware not installed") {
		t.Errorf("install without init: %d %s", code, b)
	}
	if ents, _ := os.ReadDir(filepath.Join(paths.DataDir(), "firmware")); len(ents) != 0 {
		t.Errorf("web kept files of a refused upload: %v", ents)
	}
	if code, _ := e.raw("POST", "/api/v1/firmware", ct, body, nil); code != 401 {
		t.Errorf("firmware upload without a token: %d", code)
	}
}

func TestRestoreValidatesFirst(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	tok := e.bootstrap()
	var res ConfigResult
	e.want(nil, call{method: "POST", path: "/api/v1/config/set", bearer: tok, body: ConfigSet{Settings: map[string]any{"system.timezone": "Europe/Berlin", "gateway.trunk.password": "s3cret-trunk"}}}, 200, &res)
	if !res.OK || len(res.Reloaded) == 0 {
		t.Fatalf("set: %+v", res)
	}
	// The secret is redacted in API output.
	code, body := e.raw("GET", "/api/v1/config", "", nil, map[string]string{"Authorization": "Bearer " + tok})
	if code != 200 || strings.Contains(body, "s3cret-trunk") || !strings.Contains(body, Redacted) {
		t.Fatalf("config output leaks or lacks redaction: %s", body)
	}
	before, _ := os.ReadFile(paths.ConfigFile())
	bad := []string{
		`{"edgebox_backup":"1","config":{"version":1,"system":{"hostname":"-x-"}}}`,
		`{"edgebox_backup":"9","config":{}}`,
		`{"version":1,"system":{"nosuchfield":1}}`,
		`not json`,
		`{"version":99}`,
	}
	for _, b := range bad {
		code, out := e.raw("POST", "/api/v1/restore", "application/json", []byte(b), map[string]string{"Authorization": "Bearer " + tok})
		if code != 400 {
			t.Errorf("restore %s: %d %s", b, code, out)
		}
	}
	after, _ := os.ReadFile(paths.ConfigFile())
	if !bytes.Equal(before, after) {
		t.Fatal("a refused restore changed the config")
	}
	// A downloaded backup restores, keeping the secret (encrypted in the
	// file), once the listed changes are confirmed.
	_, backup := e.raw("POST", "/api/v1/backup", "application/json", []byte(`{"passphrase":"a good passphrase"}`), map[string]string{"Authorization": "Bearer " + tok})
	if strings.Contains(backup, "s3cret-trunk") || !strings.Contains(backup, `"secrets"`) {
		t.Fatal("backup shows the secret in clear text or lacks its sealed part")
	}
	e.want(nil, call{method: "POST", path: "/api/v1/config/set", bearer: tok, body: ConfigSet{Settings: map[string]any{"system.timezone": "UTC"}}}, 200, nil)
	var check ConfigResult
	e.want(nil, call{method: "POST", path: "/api/v1/restore", bearer: tok, body: RestoreRequest{Backup: json.RawMessage(backup), Passphrase: "a good passphrase"}}, 200, &check)
	if !check.NeedsConfirm {
		t.Fatalf("restore applied without confirmation: %+v", check)
	}
	e.want(nil, call{method: "POST", path: "/api/v1/restore", bearer: tok, body: RestoreRequest{Backup: json.RawMessage(backup), Passphrase: "a good passphrase", Confirm: check.Confirm}}, 200, nil)
	c, _ := e.srv.loadConfig()
	if c.System.Timezone != "Europe/Berlin" || c.Gateway.Trunk.Password != "s3cret-trunk" {
		t.Fatalf("restored timezone %q, secret kept: %v", c.System.Timezone, c.Gateway.Trunk.Password == "s3cret-trunk")
	}
}

func TestDiagValidation(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	tok := e.bootstrap()
	for _, d := range []DiagRequest{
		{"ping", "-f 127.0.0.1"}, {"ping", "127.0.0.1; reboot"}, {"ping", "$(id)"}, {"dns", "a b"},
		{"traceroute", strings.Repeat("a", 300)}, {"at", "ATD123\r\nAT+CFUN=0"}, {"at", "rm -rf /"}, {"sh", "ls"}, {"ping", ""},
	} {
		code, _ := e.do(nil, call{method: "POST", path: "/api/v1/diag", bearer: tok, body: d})
		if code != 400 {
			t.Errorf("%+v accepted: %d", d, code)
		}
	}
	var res DiagResult
	e.want(nil, call{method: "POST", path: "/api/v1/diag", bearer: tok, body: DiagRequest{"dns", "localhost"}}, 200, &res)
	if !strings.Contains(strings.Join(res.Lines, "\n"), "127.0.0.1") {
		t.Errorf("dns localhost: %v", res.Lines)
	}
	if os.Geteuid() == 0 {
		e.want(nil, call{method: "POST", path: "/api/v1/diag", bearer: tok, body: DiagRequest{"ping", "127.0.0.1"}}, 200, &res)
		if !strings.Contains(strings.Join(res.Lines, "\n"), "4 answered") {
			t.Errorf("ping 127.0.0.1: %v", res.Lines)
		}
		e.want(nil, call{method: "POST", path: "/api/v1/diag", bearer: tok, body: DiagRequest{"traceroute", "127.0.0.1"}}, 200, &res)
		if len(res.Lines) != 2 || !strings.Contains(res.Lines[1], "127.0.0.1") {
			t.Errorf("traceroute 127.0.0.1: %v", res.Lines)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	tok := e.bootstrap()
	// Metrics need a login (finding 16), from the LAN too.
	if code, _ := e.raw("GET", "/metrics", "", nil, nil); code != 401 {
		t.Fatalf("metrics without a token: %d", code)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok}
	code, body := e.raw("GET", "/metrics", "", nil, auth)
	if code != 200 || !strings.Contains(body, `edgebox_service_restarts_total{service="web"} 1`) || !strings.Contains(body, `edgebox_component_up{component="init"} 1`) {
		t.Fatalf("metrics: %d\n%s", code, body)
	}
	// The gateway's call metrics are part of the one scrape.
	serveUnix(t, "gateway", fakeGateway())
	if _, body := e.raw("GET", "/metrics", "", nil, auth); !strings.Contains(body, "edgebox_gateway_calls_active 2") ||
		!strings.Contains(body, `edgebox_component_up{component="init"} 1`) {
		t.Fatalf("metrics lack the gateway's or web's own:\n%s", body)
	}
	if code, _ := e.raw("GET", "/metrics", "", nil, map[string]string{"Authorization": "Bearer wrong"}); code != 401 {
		t.Fatalf("metrics with a wrong token: %d", code)
	}
	if code, _ := e.raw("GET", "/metrics", "", nil, map[string]string{"Authorization": "Bearer " + tok}); code != 200 {
		t.Fatalf("metrics with a token: %d", code)
	}
}

func TestFirstBootOnlySetup(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	c := newJarClient(t)
	for _, p := range []string{"/dashboard", "/wizard/mobile", "/admin", "/login"} {
		req, _ := http.NewRequest("GET", e.ts.URL+p, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/setup" {
			t.Errorf("%s before setup: %d -> %s", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestSessionCookieFlags(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/setup", strings.NewReader(`{"password":"`+testPassword+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ck := resp.Header.Get("Set-Cookie")
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") {
		t.Fatalf("cookie %q", ck)
	}
	// Over TLS it is Secure too.
	r := httpRequestTLS("POST", "/api/v1/login", `{"username":"admin","password":"`+testPassword+`"}`)
	w := newRecorder()
	e.srv.Handler().ServeHTTP(w, r)
	if sc := w.Header().Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Fatalf("TLS cookie %q (status %d)", sc, w.Code)
	}
}
