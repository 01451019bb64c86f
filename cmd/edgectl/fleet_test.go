package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
	"edgebox/web"
)

// startWebBox runs the real web binary as one box of a fleet, with a fake
// init saying hostname and version, and returns its HTTPS URL, certificate
// fingerprint and a token of scope.
func startWebBox(t *testing.T, webBin, name, version, scope string) fleetBox {
	t.Helper()
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/system", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, sysapi.System{Board: "apu2", Hostname: name, Version: version, Slot: "b"})
	})
	m.HandleFunc("POST /v1/services/{name}/reload", func(w http.ResponseWriter, r *http.Request) { localapi.WriteJSON(w, 200, struct{}{}) })
	return startWebBoxWith(t, webBin, name, scope, m)
}

// startWebBoxWith is startWebBox with the fake init's routes given.
func startWebBoxWith(t *testing.T, webBin, name, scope string, m *http.ServeMux) fleetBox {
	t.Helper()
	_, httpsAddr, fp := startWeb(t, webBin, t.TempDir(), m)
	hs := &http.Client{Timeout: 10 * time.Second, Transport: remoteTransport(fp)}
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if resp, err = hs.Post("https://"+httpsAddr+"/api/v1/setup", "application/json", strings.NewReader(`{"password":"fleet-admin-1"}`)); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("setup of %s: %v %v", name, err, resp)
	}
	req, _ := http.NewRequest("POST", "https://"+httpsAddr+"/api/v1/tokens", strings.NewReader(`{"name":"fleet","scope":"`+scope+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", "fleet-admin-1")
	if resp, err = hs.Do(req); err != nil {
		t.Fatal(err)
	}
	var tok web.NewTokenResponse
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.Token == "" {
		t.Fatalf("no token from %s (%d)", name, resp.StatusCode)
	}
	return fleetBox{Name: name, URL: "https://" + httpsAddr, Fingerprint: fp, Token: tok.Token}
}

// TestFleetStatusAndConfigSet: two real web boxes and one that is off, in a fleet
// file; edgectl fleet status prints one row each (version, slot, alerts
// for the services that do not answer, the off box unreachable), --json
// the same, and a wrong fingerprint is refused.
func TestFleetStatusAndConfigSet(t *testing.T) {
	dir := t.TempDir()
	webBin := buildCmd(t, dir, "web")
	edgectl := buildCmd(t, dir, "edgectl")
	b1 := startWebBox(t, webBin, "berlin-1", "1.4.0", "admin")
	b2 := startWebBox(t, webBin, "berlin-2", "1.3.9", "read")
	off := fleetBox{Name: "hamburg-1", URL: "https://" + testenv.FreeAddr(t), Fingerprint: b1.Fingerprint, Token: "x"}
	wrongPin := b2
	wrongPin.Name, wrongPin.Fingerprint = "impostor", b1.Fingerprint
	data, _ := json.Marshal(map[string]any{"boxes": []fleetBox{b1, b2, off, wrongPin}})
	file := filepath.Join(dir, "fleet.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(edgectl, "fleet", "status", "--file", file).CombinedOutput()
	if err != nil {
		t.Fatalf("fleet status: %v\n%s", err, out)
	}
	t.Logf("edgectl fleet status:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "BOX") {
		t.Fatalf("fleet status: want a header and 4 rows:\n%s", out)
	}
	for _, want := range []struct {
		line  int
		parts []string
	}{
		{1, []string{"berlin-1", "1.4.0", " b ", "not answering"}},
		{2, []string{"berlin-2", "1.3.9", " b "}},
		{3, []string{"hamburg-1", "unreachable"}},
		{4, []string{"impostor", "unreachable", "fingerprint"}},
	} {
		for _, p := range want.parts {
			if !strings.Contains(lines[want.line], p) {
				t.Errorf("row %d lacks %q: %s", want.line, p, lines[want.line])
			}
		}
	}

	out, err = exec.Command(edgectl, "--json", "fleet", "status", "--file", file).Output()
	var rows []fleetRow
	if err != nil || json.Unmarshal(out, &rows) != nil || len(rows) != 4 || rows[1].Version != "1.3.9" || rows[2].Error == "" {
		t.Errorf("fleet status --json: %v\n%s", err, out)
	}

	// The same setting on every box: each box's result.
	data, _ = json.Marshal(map[string]any{"boxes": []fleetBox{b1, b2, off}})
	os.WriteFile(file, data, 0o600)
	out, err = exec.Command(edgectl, "fleet", "config", "set", "--file", file, "system.timezone", "Europe/Berlin").CombinedOutput()
	t.Logf("edgectl fleet config set:\n%s", out)
	res := string(out)
	if err == nil || !strings.Contains(res, "2 of 3 boxes did not take the change") ||
		!regexp.MustCompile(`berlin-1\s+ok`).MatchString(res) ||
		!regexp.MustCompile(`berlin-2\s+not changed: the box refused the token`).MatchString(res) ||
		!regexp.MustCompile(`hamburg-1\s+not changed: connection refused`).MatchString(res) {
		t.Errorf("fleet config set: %v\n%s", err, res)
	}
	out, _ = exec.Command(edgectl, "fleet", "config", "set", "--file", file, "system.hostname", "-bad-").CombinedOutput()
	if !regexp.MustCompile(`berlin-1\s+refused, not changed: system.hostname`).MatchString(string(out)) {
		t.Errorf("fleet config set of a bad value:\n%s", out)
	}

	// A bad fleet file is refused with the reason.
	os.WriteFile(file, []byte(`{"boxes":[{"name":"x","url":"http://10.8.0.6","fingerprint":"ab","token":"t"}]}`), 0o600)
	if out, err := exec.Command(edgectl, "fleet", "status", "--file", file).CombinedOutput(); err == nil || !strings.Contains(string(out), "https://") {
		t.Errorf("bad fleet file: %v %s", err, out)
	}
}
