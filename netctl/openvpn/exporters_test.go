package openvpn

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestExporterProfiles imports profiles in the shape each exporter writes
// them, each against a real openvpn 2.6 server configured as that
// exporter's server is, and checks that it connects, or is refused with
// words that say why.
func TestExporterProfiles(t *testing.T) {
	inline := func(tag, body string) []string {
		return []string{"<" + tag + ">", strings.TrimSpace(body), "</" + tag + ">"}
	}
	join := func(parts ...[]string) string {
		var all []string
		for _, p := range parts {
			all = append(all, p...)
		}
		return strings.Join(all, "\n") + "\n"
	}
	type env struct {
		tn  *testNet
		pki *testPKI
		key string // tls-auth / tls-crypt key, or tls-crypt-v2 client key
	}
	cases := []struct {
		name string
		// server starts the server and returns the client's key material.
		server func(t *testing.T, tn *testNet, pki *testPKI) string
		upload func(t *testing.T, e env) ([]byte, string)
		creds  Credentials
		// wantImport is a refusal's words; wantError a failed
		// connection's; neither means the tunnel must come up.
		wantImport, wantError string
		wantNotes             []string
	}{
		{
			name: "pfsense", // 2.7 export: inline, tls-auth, SHA256
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				ta := staticKey(t)
				startServerTLS(t, tn, pki, "tls-auth", ta, "key-direction 0", "auth SHA256")
				return ta
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				cert, key := e.pki.valid(t, "pfsense-box", false)
				return []byte(join([]string{
					"dev tun", "persist-tun", "persist-key",
					"data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305", "data-ciphers-fallback AES-256-CBC",
					"auth SHA256", "tls-client", "client", "resolv-retry infinite",
					"remote " + e.tn.srvIP + " 1194 udp4", `verify-x509-name "server" name`,
					"remote-cert-tls server", "explicit-exit-notify", "lport 0", "key-direction 1",
				}, inline("ca", e.pki.CA), inline("cert", cert), inline("key", key), inline("tls-auth", e.key))), "pfSense-udp-1194-box.ovpn"
			},
		},
		{
			name: "opnsense", // a cipher AES-256-CBC line, tls-auth
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				ta := staticKey(t)
				startServerTLS(t, tn, pki, "tls-auth", ta, "key-direction 0", "auth SHA256")
				return ta
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				cert, key := e.pki.valid(t, "opnsense-box", false)
				return []byte(join([]string{
					"dev tun", "persist-tun", "persist-key", "cipher AES-256-CBC", "auth SHA256",
					"client", "resolv-retry infinite", "remote " + e.tn.srvIP + " 1194 udp", "lport 0",
					`verify-x509-name "server" name`, "remote-cert-tls server", "key-direction 1",
				}, inline("ca", e.pki.CA), inline("cert", cert), inline("key", key), inline("tls-auth", e.key))), "OPNsense_box.ovpn"
			},
			wantNotes: []string{"converted for openvpn 2.6", "data-ciphers-fallback AES-256-CBC"},
		},
		{
			name: "access-server", // tls-crypt-v2, login, UDP then TCP 443
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				v2server, v2client := tlsCryptV2Keys(t)
				startServerTLS(t, tn, pki, "tls-crypt-v2", v2server, loginLines(t, "proto tcp-server", "port 443")...)
				return v2client
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				cert, key := e.pki.valid(t, "as-box", false)
				return []byte(join([]string{
					"# Automatically generated OpenVPN client config file",
					"setenv FORWARD_COMPATIBLE 1", "client", "server-poll-timeout 4", "nobind",
					"remote " + e.tn.srvIP + " 1194 udp", "remote " + e.tn.srvIP + " 443 tcp",
					"dev tun", "dev-type tun", "remote-cert-tls server", "tls-version-min 1.2",
					"reneg-sec 604800", "tun-mtu 1420", "auth-user-pass", "verb 3", "push-peer-info",
					"data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305",
				}, inline("ca", e.pki.CA), inline("cert", cert), inline("key", key), inline("tls-crypt-v2", e.key))), "client.ovpn"
			},
			creds: Credentials{Username: strp("alice"), Password: strp("right-pw")},
		},
		{
			name: "windows-gui", // config folder zip: BOM, CRLF, C:\ paths, login.conf
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				tc := staticKey(t)
				startServer(t, tn, pki, tc, loginLines(t)...)
				return tc
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return windowsZip(t, e.tn, e.pki, e.key), "office.zip"
			},
			wantNotes: []string{`"block-outside-dns" dropped: it applies to Windows only`, `"keysize 256" dropped: it is obsolete`},
		},
		{
			name: "tg200", // 2.0-era tar: CRLF, ns-cert-type, comp-lzo, BF-CBC
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				ta := staticKey(t)
				oldServer(t, tn, pki, ta, "BF-CBC")
				return ta
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return tg200Bundle(t, e.tn, e.pki, e.key, ""), "tg200-0042.tar"
			},
			wantNotes: []string{"converted for openvpn 2.6", "providers legacy default", `"user nobody" dropped`},
		},
		{
			// tls-remote, removed in 2.4: its check of the server's
			// name is kept as verify-x509-name.
			name: "tg200-tls-remote",
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				ta := staticKey(t)
				oldServer(t, tn, pki, ta, "AES-128-CBC")
				return ta
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return tg200BundleWith(t, e.tn, e.pki, e.key, "tls-remote server"), "tg200-0043.tar"
			},
			wantNotes: []string{`"tls-remote server" converted to "verify-x509-name server name"`},
		},
		{
			name: "pfsense-old-key", // the server's tls-auth key was renewed since
			server: func(t *testing.T, tn *testNet, pki *testPKI) string {
				startServerTLS(t, tn, pki, "tls-auth", staticKey(t), "key-direction 0")
				return staticKey(t) // the box still has the old key
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				cert, key := e.pki.valid(t, "pfsense-box", false)
				return []byte(join([]string{
					"dev tun", "persist-tun", "persist-key", "data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305",
					"tls-client", "client", "remote " + e.tn.srvIP + " 1194 udp4", "nobind",
					"remote-cert-tls server", "key-direction 1",
				}, inline("ca", e.pki.CA), inline("cert", cert), inline("key", key), inline("tls-auth", e.key))), "pfSense-old-key.ovpn"
			},
			wantError: "tls-auth/tls-crypt key",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn := newTestNet(t)
			pki := newTestPKI(t)
			key := c.server(t, tn, pki)
			data, name := c.upload(t, env{tn: tn, pki: pki, key: key})
			m := newTestManager(t, tn, Options{})
			info, err := m.ImportWithCredentials(bytes.NewReader(data), name, c.creds)
			if c.wantImport != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantImport) {
					t.Fatalf("import error %v, want %q", err, c.wantImport)
				}
				return
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			wantShown(t, info, c.wantNotes...)
			runManager(t, m)
			m.SetUplink(true, "wan")
			if c.wantError != "" {
				st := waitStatus(t, m, 60*time.Second, c.wantError, func(st Status) bool { return strings.Contains(st.LastError, c.wantError) })
				t.Logf("refused as: %s", st.LastError)
				return
			}
			waitStatus(t, m, 60*time.Second, "CONNECTED", connected)
		})
	}
}

// loginLines are a server's lines that accept alice / right-pw only.
func loginLines(t testing.TB, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	check := dir + "/check.sh"
	script := "#!/bin/sh\n[ \"$(sed -n 1p \"$1\")\" = alice ] && [ \"$(sed -n 2p \"$1\")\" = right-pw ]\n"
	if err := os.WriteFile(check, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return append([]string{"script-security 2", "auth-user-pass-verify " + check + " via-file", "tmp-dir " + dir}, extra...)
}

// tg200BundleWith is the 2.0-era bundle with one more line.
func tg200BundleWith(t testing.TB, tn *testNet, pki *testPKI, ta, line string) []byte {
	t.Helper()
	return tg200Bundle(t, tn, pki, ta, fmt.Sprintf("cipher AES-128-CBC\r\n%s", line))
}
