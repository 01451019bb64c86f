package openvpn

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/localapi"
)

// TestAPI drives the VPN API through its typed client over a unix socket,
// as edgectl and the web service do.
func TestAPI(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	m := newTestManager(t, tn, Options{})
	sock := filepath.Join(t.TempDir(), "netctl.sock")
	l, err := localapi.ListenPath(sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	m.Routes(mux)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- localapi.Serve(ctx, l, mux) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			t.Error("API server did not stop")
		}
	})
	c := NewClientWith(localapi.NewClientPath(sock))

	st, err := c.Status(ctx)
	if err != nil || st.State != StateNoProfile || st.Profile != nil {
		t.Fatalf("status before import: %+v, %v", st, err)
	}

	cert, key := pki.valid(t, "box-api", false)
	good := clientProfile(tn, pki, cert, key, tc)
	info, err := c.Import(ctx, strings.NewReader(good), "api.ovpn", Credentials{Username: strp("alice"), Password: strp("pw-not-in-status")})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if info.Name != "api.ovpn" || len(info.Remotes) != 1 {
		t.Errorf("import answer: %+v", info)
	}
	_, err = c.Import(ctx, strings.NewReader(good+"plugin /lib/evil.so\n"), "evil.ovpn", Credentials{})
	if err == nil || !strings.Contains(err.Error(), "evil.ovpn line") || !strings.Contains(err.Error(), "plugin") {
		t.Errorf("forbidden import: err = %v", err)
	}

	st, err = c.SetCredentials(ctx, Credentials{Passphrase: strp("pp-not-in-status")})
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasPassphrase || !st.HasLogin || st.Profile == nil || st.Profile.Name != "api.ovpn" {
		t.Errorf("status after credentials: %+v", st)
	}
	raw, _ := json.Marshal(st)
	for _, secret := range []string{"pw-not-in-status", "pp-not-in-status", "alice"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("status shows secret %q: %s", secret, raw)
		}
	}
	if _, err := c.SetCredentials(ctx, Credentials{Password: strp("two\nlines")}); err == nil {
		t.Error("credentials with a line break accepted")
	}
	var out json.RawMessage
	err = localapi.NewClientPath(sock).Post(ctx, "/v1/vpn/credentials", map[string]string{"pasphrase": "typo"}, &out)
	if err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("unknown field accepted: %v", err)
	}
	if _, err := c.Reconnect(ctx); err != nil {
		t.Errorf("reconnect: %v", err)
	}

	// A raw body upload, as curl --data-binary would send it.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://unix/v1/vpn/import?filename=raw.ovpn", strings.NewReader(good))
	resp, err := localapi.NewClientPath(sock).HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("raw import: %s", resp.Status)
	}
	if st := m.Status(); st.Profile == nil || st.Profile.Name != "raw.ovpn" {
		t.Errorf("after raw import: %+v", st.Profile)
	}
}
