package image

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/internal/update"
)

// TestQEMUFactoryResetThenSetupAgain: a box handed to another site is
// reset from the API, then set up again. What was stored must be gone
// (password, API tokens, settings, the VPN profile) and the box must be a
// blank box again: the first-boot password page, then everything works.
func TestQEMUFactoryResetThenSetupAgain(t *testing.T) {
	parallelQEMU(t)
	img := builtImage(t)
	r := newFieldRig(t)
	fd := &fieldDay{t: t, r: r, disk: diskCopy(t, img, "")}
	fd.lan = testenv.HTTPClientIn(r.lan)
	r.startDHCP("dhcp-isp", r.inet, "wan0", fdWANNet)
	r.staticLAN()
	profile := r.startVPN()
	vm, err := StartVM(VMOptions{Disk: fd.disk, Netns: r.box, LANTap: "taplan", WANTap: "tapwan",
		ConsoleLog: filepath.Join(r.dir, "console.log")})
	if err != nil {
		t.Fatal(err)
	}
	fd.vm = vm
	t.Cleanup(func() {
		if !vm.Exited() {
			vm.Kill()
		}
		if t.Failed() {
			t.Logf("console (tail):\n%s", testenv.Tail(vm.Console(), 6000))
		}
	})
	if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.api("POST", "/api/v1/setup", map[string]string{"password": fdAdminPass}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fd.newToken(); err != nil {
		t.Fatal(err)
	}
	if _, err := fd.api("POST", "/api/v1/config/set", map[string]any{"settings": map[string]any{"network.modem.apn": "site-one-apn"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fd.uploadProfile("site-one.ovpn", profile); err != nil {
		t.Fatal(err)
	}
	oldToken := fd.token

	mark := len(vm.Console())
	if code, err := fd.api("POST", "/api/v1/system/factory-reset", map[string]string{"confirm": update.FactoryResetPhrase}, nil); err != nil {
		t.Fatalf("factory reset: %d %v", code, err)
	}
	if _, err := vm.WaitConsole("edgebox init ", mark, 4*time.Minute); err != nil {
		t.Fatalf("no new boot after the factory reset: %v", err)
	}
	if _, err := fd.waitHealthy(4 * time.Minute); err != nil {
		t.Fatal(err)
	}

	// The old token and password open nothing.
	if code, err := fd.api("GET", "/api/v1/config", nil, nil); err == nil || (code != http.StatusUnauthorized && code != http.StatusForbidden) {
		t.Errorf("the token from before the reset: %d %v, want refused", code, err)
	}
	fd.token = ""
	if err := fd.newToken(); err == nil {
		t.Errorf("the password from before the reset still gives a token")
	}
	// A blank box: setup again, with a new password.
	const newPass = "second-site-secret-2"
	if _, err := fd.api("POST", "/api/v1/setup", map[string]string{"password": newPass}, nil); err != nil {
		t.Fatalf("setup after the factory reset: %v", err)
	}
	req, _ := http.NewRequest("POST", "https://"+fdBoxLAN+"/api/v1/tokens", strings.NewReader(`{"name":"site2","scope":"admin"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", newPass)
	resp, err := fd.lan.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data := drain(resp.Body)
	var tok struct {
		Token string `json:"token"`
	}
	json.Unmarshal(data, &tok)
	if tok.Token == "" || tok.Token == oldToken {
		t.Fatalf("no new token with the new password: %s %s", resp.Status, data)
	}
	fd.token = tok.Token
	var cfg map[string]any
	if _, err := fd.api("GET", "/api/v1/config", nil, &cfg); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(cfg); strings.Contains(s, "site-one-apn") {
		t.Errorf("the first site's APN survived the factory reset: %s", testenv.Tail(s, 1000))
	}
	vpn, err := fd.vpnStatus()
	if err != nil {
		t.Fatal(err)
	}
	if vpn.Profile != nil || strings.EqualFold(vpn.State, "connected") {
		t.Errorf("the first site's VPN profile survived the factory reset: %+v", vpn)
	}
}
