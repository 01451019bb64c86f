package netctl_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/vpnapi"
	"edgebox/internal/config"
	"edgebox/netctl"
	"edgebox/netctl/openvpn"
)

// TestWireOpenVPN: the manager netctl builds answers under /v1/vpn/ on
// netctl's API, follows the uplink netctl reports, and starts switched as
// the config's vpn.enabled says. No openvpn is started: there is no profile.
func TestWireOpenVPN(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := netctl.New(netctl.Options{ConfigPath: filepath.Join(dir, "config.json"), Log: log, ResolvConf: filepath.Join(dir, "resolv.conf")})
	if err != nil {
		t.Fatal(err)
	}
	opt := openvpn.Options{ProfileDir: filepath.Join(dir, "vpn"), RunDir: filepath.Join(dir, "run"), Binary: "/nonexistent/openvpn"}
	vpn, err := netctl.WireOpenVPN(svc, config.VPN{Enabled: false, Interface: "tun7"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	status := func() vpnapi.Status {
		t.Helper()
		rec := httptest.NewRecorder()
		svc.Mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/vpn/status", nil))
		var st vpnapi.Status
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &st) != nil {
			t.Fatalf("GET /v1/vpn/status on netctl's mux: %d %s", rec.Code, rec.Body)
		}
		return st
	}
	if st := status(); st.Interface != "tun7" || st.Uplink != "" {
		t.Errorf("status before any uplink: %+v", st)
	}
	uplink := func(ch netctl.UplinkChange) {
		if len(svc.OnUplinkChange) != 1 {
			t.Fatalf("%d uplink callbacks, want the VPN's", len(svc.OnUplinkChange))
		}
		svc.OnUplinkChange[0](ch)
	}
	uplink(netctl.UplinkChange{Name: "wan", Iface: "wan0"})
	if st := status(); st.Uplink != "wan" {
		t.Errorf("uplink wan not passed on: %+v", st)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vpn.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("vpn manager did not stop")
		}
	}()
	waitState := func(want string) {
		t.Helper()
		var st vpnapi.Status
		for i := 0; i < 250; i++ { // bounded: 5 s
			if st = status(); st.State == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("vpn state %q, want %q", st.State, want)
	}
	waitState(vpnapi.StateDisabled) // vpn.enabled false in the config
	vpn.SetEnabled(true)
	waitState(vpnapi.StateNoProfile)
	uplink(netctl.UplinkChange{})
	if st := status(); st.Uplink != "" {
		t.Errorf("offline not passed on: %+v", st)
	}

	_, err = netctl.WireOpenVPN(svc, config.VPN{Interface: strings.Repeat("t", 16)}, opt)
	if err == nil || !strings.Contains(err.Error(), "longer than 15") {
		t.Errorf("over-long interface: %v", err)
	}
	if n := len(svc.OnUplinkChange); n != 1 {
		t.Errorf("a refused manager left %d uplink callbacks", n)
	}
}
