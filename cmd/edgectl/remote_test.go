package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/web"
)

// TestRemoteThroughWeb runs the real web binary with a fake init and
// drives edgectl's remote mode against it: services, status, config set
// and backup over HTTPS with a token and a pinned certificate.
func TestRemoteThroughWeb(t *testing.T) {
	dir := t.TempDir()
	bin := buildCmd(t, dir, "web")
	// A fake init on the box side.
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/system", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, sysapi.System{Board: "apu2", Hostname: "box7", Version: "1.2", Services: []sysapi.Service{{Name: "netctl", State: "running", Restarts: 2}}})
	})
	m.HandleFunc("POST /v1/services/{name}/reload", func(w http.ResponseWriter, r *http.Request) { localapi.WriteJSON(w, 200, struct{}{}) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	httpAddr, httpsAddr, fp := startWeb(t, bin, dir, m)
	// Wait until it answers, then bootstrap over plain HTTP as the lead's test does.
	hc := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ {
		if resp, err = hc.Get("http://" + httpAddr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The first password and tokens only over HTTPS (plain HTTP refuses
	// them); this client checks the pin below, not here.
	hs := &http.Client{Timeout: 5 * time.Second, Transport: remoteTransport(fp)}
	if resp, err = hc.Post("http://"+httpAddr+"/api/v1/setup", "application/json", strings.NewReader(`{"password":"remote-admin-1"}`)); err != nil || resp.StatusCode != 403 {
		t.Fatalf("setup over plain HTTP: %v %v", err, resp)
	}
	resp, err = hs.Post("https://"+httpsAddr+"/api/v1/setup", "application/json", strings.NewReader(`{"password":"remote-admin-1"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("setup: %v %v", err, resp)
	}
	req, _ := http.NewRequest("POST", "https://"+httpsAddr+"/api/v1/tokens", strings.NewReader(`{"name":"laptop","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", "remote-admin-1")
	resp, err = hs.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok web.NewTokenResponse
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	url := "https://" + httpsAddr
	t.Setenv("EDGEBOX_RUN_DIR", filepath.Join(dir, "nothing-local"))

	// Refused: no pin for a self-signed certificate, a wrong pin, a wrong token.
	if _, err := startRemote(ctx, url, tok.Token, ""); err == nil || !strings.Contains(err.Error(), "--fingerprint") {
		t.Fatalf("unpinned self-signed certificate: %v", err)
	}
	if _, err := startRemote(ctx, url, tok.Token, strings.Repeat("AB:", 31)+"AB"); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("wrong fingerprint: %v", err)
	}
	if _, err := startRemote(ctx, url, tok.Token+"x", fp); err == nil || !strings.Contains(err.Error(), "invalid or expired API token") {
		t.Fatalf("wrong token: %v", err)
	}

	r, err := startRemote(ctx, url, tok.Token, fp)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	// The lead's services client, unchanged, now goes over HTTPS.
	sys, err := sysapi.NewClient().Status(ctx)
	if err != nil || sys.Board != "apu2" || len(sys.Services) != 1 {
		t.Fatalf("init through the proxy: %+v %v", sys, err)
	}
	st, err := fetchStatus(ctx)
	if err != nil || st.System == nil || st.System.Hostname != "box7" {
		t.Fatalf("status: %+v %v", st, err)
	}
	if out := formatStatus(st); !strings.Contains(out, "box7") || !strings.Contains(out, "netctl") {
		t.Fatalf("status output:\n%s", out)
	}
	g := &globals{}
	var res web.ConfigResult
	if err := doResult(ctx, "POST", "/api/v1/config/set", web.ConfigSet{Settings: map[string]any{"system.timezone": "Europe/Berlin"}}, &res); err != nil || !res.OK {
		t.Fatalf("config set: %+v %v", res, err)
	}
	if err := doResult(ctx, "POST", "/api/v1/config/set", web.ConfigSet{Settings: map[string]any{"system.hostname": "-bad-"}}, &res); err != nil || res.OK || res.Errors[0].Field != "system.hostname" {
		t.Fatalf("bad config set: %+v %v", res, err)
	}
	if err := reportResult(g, res, nil, false); err == nil || !strings.Contains(err.Error(), "system.hostname") {
		t.Fatalf("report: %v", err)
	}
	t.Setenv("EDGECTL_BACKUP_PASSPHRASE", "remote backup passphrase")
	backup := filepath.Join(dir, "b.json")
	if err := runBackup(ctx, g, []string{"-o", backup}); err != nil {
		t.Fatal(err)
	}
	if err := configValidate(ctx, g, []string{backup}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(backup); fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v", fi.Mode())
	}
	b, _ := os.ReadFile(backup)
	if !strings.Contains(string(b), "Europe/Berlin") {
		t.Fatalf("backup lacks the change: %s", b)
	}
	if err := runRestore(ctx, g, []string{"-y", backup}); err != nil {
		t.Fatalf("restore: %v", err)
	}

	// Tokens: made, listed, revoked from edgectl.
	if err := runTokenCreate(ctx, g, []string{"-scope", "read", "-days", "7", "ci"}); err != nil {
		t.Fatal(err)
	}
	find := func() *web.TokenInfo {
		var list []web.TokenInfo
		if err := webClient().Get(ctx, "/api/v1/tokens", &list); err != nil {
			t.Fatal(err)
		}
		for i := range list {
			if list[i].Name == "ci" {
				return &list[i]
			}
		}
		return nil
	}
	ci := find()
	if ci == nil || ci.Scope != web.ScopeRead || ci.Expires.Sub(ci.Created) != 7*24*time.Hour {
		t.Fatalf("token made by edgectl: %+v", ci)
	}
	if err := runTokens(ctx, g, nil); err != nil {
		t.Fatal(err)
	}
	if err := runTokenRevoke(ctx, g, []string{ci.ID}); err != nil {
		t.Fatal(err)
	}
	if find() != nil {
		t.Fatal("revoked token still listed")
	}
	// A read token shows the status; the services' own APIs need admin.
	var ro web.NewTokenResponse
	if err := webClient().Post(ctx, "/api/v1/tokens", web.TokenRequest{Name: "ro", Scope: web.ScopeRead}, &ro); err != nil {
		t.Fatal(err)
	}
	r.close()
	r2, err := startRemote(ctx, url, ro.Token, fp)
	if err != nil {
		t.Fatalf("remote with a read token: %v", err)
	}
	defer r2.close()
	if st, err := fetchStatus(ctx); err != nil || st.System == nil {
		t.Fatalf("status with a read token: %+v %v", st, err)
	}
	if _, err := sysapi.NewClient().Status(ctx); err == nil || !strings.Contains(err.Error(), `needs "admin"`) {
		t.Fatalf("init's API with a read token: %v", err)
	}
	if err := runPasswordReset(ctx, &globals{URL: url}, nil); err == nil || !strings.Contains(err.Error(), "at the box") {
		t.Fatalf("password reset from afar: %v", err)
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]string{"internet": "internet", "5": "5", "true": "true", `["a","b"]`: "[a b]", `"007"`: "007", "1 2": "1 2"} {
		if got := strings.TrimSpace(jsonText(parseValue(in))); got != want {
			t.Errorf("parseValue(%q) = %s, want %s", in, got, want)
		}
	}
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, jsonText(e))
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
