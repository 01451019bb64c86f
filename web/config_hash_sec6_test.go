package web

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

// TestSec6ConfigHidesSecretHashesBelowAdmin: a portal key is stored as
// its unsalted SHA-256, and GET /api/v1/config showed that hash to read
// and operate tokens (monitoring, fleet dashboards): an offline guess for
// a short hand-made key. Below admin, and in what leaves the box readable
// (a backup's readable part, the support bundle), hashes of secrets are
// redacted like the secrets; the admin still sees them, and a backup
// still restores them (its sealed part). Sixth review, left item.
func TestSec6ConfigHidesSecretHashesBelowAdmin(t *testing.T) {
	e := newTestEnv(t, true, Options{})
	admin := e.bootstrap()
	var key APIKeyResult
	e.want(nil, call{method: "POST", path: "/api/v1/gateway/api-keys", bearer: admin,
		body: map[string]any{"name": "portal", "destinations": []string{"support"}, "from_domains": []string{"example.com"}}}, 201, &key)
	sum := sha256.Sum256([]byte(key.Key))
	hash := hex.EncodeToString(sum[:])

	var rd, op NewTokenResponse
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "monitoring", Scope: ScopeRead}}, 201, &rd)
	e.want(nil, call{method: "POST", path: "/api/v1/tokens", bearer: admin, body: TokenRequest{Name: "dashboard", Scope: ScopeOperate}}, 201, &op)
	for _, tok := range []NewTokenResponse{rd, op} {
		for _, q := range []string{"", "?path=gateway.portal.api_keys", "?path=gateway.portal.api_keys[0].sha256"} {
			code, b := e.do(nil, call{method: "GET", path: "/api/v1/config" + q, bearer: tok.Token})
			if code != 200 || strings.Contains(string(b), hash) || !strings.Contains(string(b), Redacted) {
				t.Errorf("%s token: GET /api/v1/config%s answered %d with the key's hash or without %q: %s", tok.Scope, q, code, Redacted, b)
			}
		}
	}
	if code, b := e.do(nil, call{method: "GET", path: "/api/v1/config?path=gateway.portal.api_keys[0].sha256", bearer: admin}); code != 200 || !strings.Contains(string(b), hash) {
		t.Errorf("admin: GET the key's sha256 answered %d %s, want the hash (the admin manages keys)", code, b)
	}

	code, b := e.do(nil, call{method: "POST", path: "/api/v1/backup", bearer: admin, body: BackupRequest{Passphrase: "a long backup passphrase"}})
	if code != 200 || strings.Contains(string(b), hash) {
		t.Errorf("backup (%d): its readable part carries the key's hash", code)
	}
	// The sealed part still restores the key: drop it, restore, and it
	// is back with its hash.
	e.want(nil, call{method: "POST", path: "/api/v1/config/set", bearer: admin, body: ConfigSet{Settings: map[string]any{"gateway.portal.api_keys": []any{}}}}, 200, nil)
	var chk ConfigResult
	e.want(nil, call{method: "POST", path: "/api/v1/restore", bearer: admin, body: RestoreRequest{Backup: b, Passphrase: "a long backup passphrase"}}, 200, &chk)
	e.want(nil, call{method: "POST", path: "/api/v1/restore", bearer: admin, body: RestoreRequest{Backup: b, Passphrase: "a long backup passphrase", Confirm: chk.Confirm}}, 200, nil)
	if c, err := e.srv.loadConfig(); err != nil || len(c.Gateway.Portal.APIKeys) != 1 || c.Gateway.Portal.APIKeys[0].SHA256 != hash {
		t.Errorf("after restoring the backup (%v): stored keys %+v, want the key with its hash", err, c)
	}

	code, b = e.do(nil, call{method: "POST", path: "/api/v1/support-bundle", bearer: admin, body: map[string]any{}})
	if code != 200 {
		t.Fatalf("support bundle: %d %s", code, b)
	}
	cfg := supportBundleFile(t, b, "edgebox-support/config.json")
	if !strings.Contains(cfg, `"api_keys"`) || strings.Contains(cfg, hash) {
		t.Errorf("the support bundle's config.json carries the key's hash (or no keys at all):\n%s", cfg)
	}
}

// supportBundleFile is the file name in a support bundle (.tar.gz).
func supportBundleFile(t *testing.T, tgz []byte, name string) string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	arc := tar.NewReader(gz)
	for {
		h, err := arc.Next()
		if err != nil {
			t.Fatalf("%s not in the bundle: %v", name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(arc)
			return string(b)
		}
	}
}
