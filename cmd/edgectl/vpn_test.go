package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/vpnapi"
	"edgebox/internal/localapi"
)

// edgectl vpn status and vpn import show what the profile import changed
// or warns about and openvpn's reason for the state (issue 24), against a
// netctl VPN API on a unix socket.
func TestVPNStatusShowsNotesAndDetail(t *testing.T) {
	dir := t.TempDir()
	bin := buildCmd(t, dir, "edgectl")
	run := filepath.Join(dir, "run")
	notes := []string{
		"converted for openvpn 2.6: cipher BF-CBC became data-ciphers AES-256-GCM:BF-CBC",
		"openvpn warns: DEPRECATED OPTION: --cipher set to 'BF-CBC' but missing in --data-ciphers",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/vpn/status", func(w http.ResponseWriter, r *http.Request) {
		since := time.Now().Add(-time.Hour)
		localapi.WriteJSON(w, 200, vpnapi.Status{State: vpnapi.StateReconnecting, Detail: "ping-restart", Interface: "tun0",
			Remote: "vpn.example.net:1194", ConnectedSince: &since,
			Profile: &vpnapi.ProfileInfo{Name: "office.ovpn", ImportedAt: since, Notes: notes}})
	})
	mux.HandleFunc("POST /v1/vpn/import", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, 200, vpnapi.ImportResult{Profile: vpnapi.ProfileInfo{Name: "office.ovpn", Remotes: []string{"vpn.example.net:1194"}, Notes: notes}})
	})
	serveFake(t, run, "netctl.sock", mux)

	edgectl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+run)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("edgectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := edgectl("vpn", "status")
	for _, want := range []string{"RECONNECTING (ping-restart)", "profile notes", notes[0], notes[1]} {
		if !strings.Contains(out, want) {
			t.Errorf("vpn status lacks %q:\n%s", want, out)
		}
	}
	profile := filepath.Join(dir, "office.ovpn")
	os.WriteFile(profile, []byte("client\nremote vpn.example.net 1194\ncipher BF-CBC\n"), 0o600)
	out = edgectl("vpn", "import", profile)
	if !strings.Contains(out, "note: "+notes[0]) || !strings.Contains(out, "note: "+notes[1]) {
		t.Errorf("vpn import does not show the notes:\n%s", out)
	}
}
