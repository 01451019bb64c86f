package openvpn

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Profiles as older and other servers export them (OpenVPN 2.3/2.4,
// Ubiquiti, MikroTik, DD-WRT, Windows folders), each against a real
// openvpn 2.6 server configured like the old one. The exporters_test.go
// table covers pfSense, OPNsense, Access Server and the 2.0-era tar; these
// are the shapes it does not.

// oldSrv describes a server the way the old one was set up.
type oldSrv struct {
	lines []string          // config lines after the common ones
	files map[string]string // extra files in its folder (name -> content)
	ns    bool              // server certificate with the Netscape server type
	cn    string            // server certificate's common name; default "server"
}

// startOldServer runs openvpn 2.6 in tn.srv with only the lines an old
// server had: no tls-crypt, no data-ciphers unless the lines say so. Files
// are referred to by name: the config runs with --cd in its folder.
func startOldServer(t testing.TB, tn *testNet, pki *testPKI, o oldSrv) *testServer {
	t.Helper()
	dir := t.TempDir()
	cn := o.cn
	if cn == "" {
		cn = "server"
	}
	files := map[string]string{}
	if pki != nil { // else o.files brings ca.crt, server.crt and server.key
		var cert, key string
		if o.ns {
			cert, key = pki.issueNS(t, cn)
		} else {
			cert, key = pki.valid(t, cn, true)
		}
		files = map[string]string{"ca.crt": pki.CA, "server.crt": cert, "server.key": key}
	}
	for k, v := range o.files {
		files[k] = v
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	server := []string{fmt.Sprintf("server %s.0 255.255.255.0", tn.tunNet), "topology subnet"}
	if slices.ContainsFunc(o.lines, func(l string) bool { return strings.HasPrefix(l, "server-bridge") }) {
		server = nil // a bridged server: its own line says it all
	}
	conf := append([]string{"dev tun", "local " + tn.srvIP, "port 1194"}, server...)
	conf = append(append(conf,
		"ca "+filepath.Join(dir, "ca.crt"),
		"cert "+filepath.Join(dir, "server.crt"),
		"key "+filepath.Join(dir, "server.key"),
		"dh none",
		"keepalive 1 4",
		"hand-window 5",
		"verb 3",
	), o.lines...)
	for i, l := range conf {
		// Let lines name files of the folder by their base name.
		for name := range o.files {
			conf[i] = strings.ReplaceAll(l, " "+name, " "+filepath.Join(dir, name))
			l = conf[i]
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, net: tn, dir: dir}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// pkcs12Of bundles cert, key and the CA into an unencrypted PKCS#12 file,
// as pfSense and Sophos export them for Windows.
func pkcs12Of(t testing.TB, pki *testPKI, cert, key string) []byte {
	return pkcs12With(t, pki, cert, key, "")
}

// pkcs12With is pkcs12Of with the file encrypted under pass.
func pkcs12With(t testing.TB, pki *testPKI, cert, key, pass string) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{"c.pem": cert, "k.pem": key, "ca.pem": pki.CA} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "box.p12")
	cmd := exec.Command("openssl", "pkcs12", "-export", "-in", filepath.Join(dir, "c.pem"), "-inkey", filepath.Join(dir, "k.pem"),
		"-certfile", filepath.Join(dir, "ca.pem"), "-out", out, "-passout", "pass:"+pass)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func inlineBlock(tag, body string) string {
	return "<" + tag + ">\n" + strings.TrimSpace(body) + "\n</" + tag + ">"
}

// TestOldServerProfiles: each profile imports and connects (or is refused
// with the words given), against a server set up as its exporter's was.
func TestOldServerProfiles(t *testing.T) {
	type env struct {
		tn   *testNet
		pki  *testPKI
		ta   string // the tls-auth / tls-crypt key both sides use
		cert string
		key  string
	}
	cases := []struct {
		name   string
		server func(t testing.TB, e env) oldSrv
		upload func(t *testing.T, e env) ([]byte, string)
		creds  Credentials
		// wantImport: a refusal's words; else the tunnel must come up.
		wantImport string
		wantNotes  []string
		after      func(t *testing.T, e env)
	}{
		{
			// OpenVPN 2.3 server: comp-lzo, cipher and auth only, inline
			// tls-auth with key-direction after the block.
			name: "openvpn-2.3",
			server: func(t testing.TB, e env) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp", "tls-auth ta.key 0", "comp-lzo", "cipher AES-256-CBC", "auth SHA1",
					"data-ciphers AES-256-CBC", "data-ciphers-fallback AES-256-CBC",
				}}
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "resolv-retry infinite",
					"nobind", "persist-key", "persist-tun", "comp-lzo", "cipher AES-256-CBC", "auth SHA1", "verb 3",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta), "key-direction 1",
				}, "\n") + "\n"), "old23.ovpn"
			},
			wantNotes: []string{"converted for openvpn 2.6", "data-ciphers-fallback AES-256-CBC"},
		},
		{
			// OpenVPN 2.4 server: inline tls-auth given its direction on
			// the tls-auth line, udp4, tun-mtu/fragment/mssfix.
			name: "openvpn-2.4-fragment",
			server: func(t testing.TB, e env) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp4", "tls-auth ta.key 0", "cipher AES-256-GCM", "tun-mtu 1400", "fragment 1300", "mssfix 1200",
				}}
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp4", "remote " + e.tn.srvIP + " 1194 udp4", "nobind",
					"remote-cert-tls server", "cipher AES-256-GCM", "tun-mtu 1400", "fragment 1300", "mssfix 1200",
					"tls-auth [inline] 1",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta),
				}, "\n") + "\n"), "old24.ovpn"
			},
		},
		{
			// Ubiquiti EdgeRouter (openvpn 2.4): CRLF, a BOM, comp-lzo,
			// tls-auth, key-direction as its own line before the block,
			// verify-x509-name with name-prefix, float.
			name: "ubiquiti-edgerouter",
			server: func(t testing.TB, e env) oldSrv {
				return oldSrv{cn: "server-er4", files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp", "tls-auth ta.key 0", "comp-lzo", "cipher AES-256-CBC", "auth SHA256",
					"data-ciphers AES-256-CBC", "data-ciphers-fallback AES-256-CBC",
				}}
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return []byte("\xef\xbb\xbf" + strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "float", "nobind",
					"comp-lzo", "cipher AES-256-CBC", "auth SHA256", "verify-x509-name server name-prefix",
					"remote-cert-tls server", "key-direction 1",
					strings.ReplaceAll(inlineBlock("ca", e.pki.CA), "\n", "\r\n"), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta),
				}, "\r\n") + "\r\n"), "edgerouter.ovpn"
			},
			wantNotes: []string{"converted for openvpn 2.6"},
		},
		{
			// MikroTik RouterOS 6: TCP only, no compression, no tls-auth,
			// cipher AES-256-CBC with auth SHA1, a login, route-nopull with
			// its own route.
			name: "mikrotik",
			server: func(t testing.TB, e env) oldSrv {
				return oldSrv{lines: append(loginLines(t), "proto tcp-server", "cipher AES-256-CBC", "auth SHA1",
					"data-ciphers AES-256-CBC", "data-ciphers-fallback AES-256-CBC", "push \"route 10.99.0.0 255.255.0.0\"")}
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto tcp-client", "remote " + e.tn.srvIP + " 1194", "nobind", "persist-key",
					"cipher AES-256-CBC", "auth SHA1", "auth-user-pass", "auth-nocache", "route-nopull",
					"route " + e.tn.tunNet + ".0 255.255.255.0", "verb 3",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "mikrotik.ovpn"
			},
			creds:     Credentials{Username: strp("alice"), Password: strp("right-pw")},
			wantNotes: []string{"converted for openvpn 2.6"},
			after: func(t *testing.T, e env) {
				out := mustRun(t, "ip", "netns", "exec", e.tn.cli, "ip", "route")
				if strings.Contains(out, "10.99.0.0") {
					t.Errorf("route-nopull: the pushed route was installed:\n%s", out)
				}
			},
		},
		{
			// DD-WRT: a tar with the files beside the config, tls-auth
			// with its direction, ns-cert-type, comp-lzo adaptive.
			name: "dd-wrt",
			server: func(t testing.TB, e env) oldSrv {
				return oldSrv{ns: true, files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp", "tls-auth ta.key 0", "comp-lzo adaptive", "cipher AES-128-CBC", "auth SHA256",
					"data-ciphers AES-128-CBC", "data-ciphers-fallback AES-128-CBC",
				}}
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "resolv-retry infinite", "nobind",
					"persist-key", "persist-tun", "ca ca.crt", "cert client.crt", "key client.key",
					"ns-cert-type server", "tls-auth ta.key 1", "comp-lzo adaptive", "cipher AES-128-CBC", "auth SHA256",
					"tun-mtu 1500", "mssfix 1450", "verb 3",
				}, "\n") + "\n"
				return makeTar(t, map[string]string{"openvpn/client.conf": conf, "openvpn/ca.crt": e.pki.CA,
					"openvpn/client.crt": e.cert, "openvpn/client.key": e.key, "openvpn/ta.key": e.ta}), "ddwrt.tar"
			},
			wantNotes: []string{"converted for openvpn 2.6"},
		},
		{
			// A pfSense "Windows" export: the certificate and key as an
			// inline base64 PKCS#12, two remotes with remote-random (one
			// dead), redirect-gateway def1 and DNS pushed.
			name: "pkcs12-remote-random",
			server: func(t testing.TB, e env) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp4", "tls-crypt ta.key", "push \"redirect-gateway def1\"", "push \"dhcp-option DNS 10.200.0.53\"",
				}}
			},
			upload: func(t *testing.T, e env) ([]byte, string) {
				p12 := pkcs12Of(t, e.pki, e.cert, e.key)
				var enc bytes.Buffer
				b64 := base64.StdEncoding.EncodeToString(p12)
				for len(b64) > 64 {
					enc.WriteString(b64[:64] + "\n")
					b64 = b64[64:]
				}
				enc.WriteString(b64)
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp4", "remote 10.199.250.250 1194", "remote " + e.tn.srvIP + " 1194",
					"remote-random", "server-poll-timeout 2", "nobind", "remote-cert-tls server", "redirect-gateway def1",
					"dhcp-option DNS 10.200.0.53",
					"<pkcs12>", enc.String(), "</pkcs12>", inlineBlock("tls-crypt", e.ta),
				}, "\n") + "\n"), "pfsense-win.ovpn"
			},
		},
		{
			// Dangerous lines are refused with their reason, even from an
			// old server's export.
			name:   "plugin-refused",
			server: func(t testing.TB, e env) oldSrv { return oldSrv{} },
			upload: func(t *testing.T, e env) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "remote " + e.tn.srvIP + " 1194",
					"plugin /usr/lib/openvpn/openvpn-plugin-down-root.so \"/etc/openvpn/down.sh\"",
					inlineBlock("ca", e.pki.CA),
				}, "\n") + "\n"), "down-root.ovpn"
			},
			wantImport: "it runs a program on the box",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn := newTestNet(t)
			pki := newTestPKI(t)
			cert, key := pki.valid(t, "box-"+c.name, false)
			e := env{tn: tn, pki: pki, ta: staticKey(t), cert: cert, key: key}
			if c.wantImport == "" {
				startOldServer(t, tn, pki, c.server(t, e))
			}
			data, name := c.upload(t, e)
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
			waitStatus(t, m, 60*time.Second, "CONNECTED", connected)
			mustRun(t, "ip", "netns", "exec", tn.cli, "ping", "-c", "1", "-W", "3", tn.tunNet+".1")
			if c.after != nil {
				c.after(t, e)
			}
		})
	}
}

// TestCompressionMismatchSaysWhy: a 2.3 server with comp-lzo and a profile
// without it (or the other way round) connect, but the server drops every
// packet the box sends ("Bad LZO decompression header byte"): openvpn
// shows CONNECTED while nothing passes. The status must say it is the
// compression, and what to add.
func TestCompressionMismatchSaysWhy(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	ta := staticKey(t)
	startOldServer(t, tn, pki, oldSrv{files: map[string]string{"ta.key": ta}, lines: []string{
		"proto udp", "tls-auth ta.key 0", "comp-lzo", "data-ciphers AES-256-GCM:AES-256-CBC",
	}})
	cert, key := pki.valid(t, "box-nolzo", false)
	prof := strings.Join([]string{
		"client", "dev tun", "proto udp", "remote " + tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
		inlineBlock("ca", pki.CA), inlineBlock("cert", cert), inlineBlock("key", key),
		inlineBlock("tls-auth", ta), "key-direction 1",
	}, "\n") + "\n"
	m := newTestManager(t, tn, Options{})
	if _, err := m.ImportWithCredentials(strings.NewReader(prof), "nolzo.ovpn", Credentials{}); err != nil {
		t.Fatalf("import: %v", err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 30*time.Second, "CONNECTED", connected)
	// Traffic: the server cannot read it.
	out, perr := exec.Command("ip", "netns", "exec", tn.cli, "ping", "-c", "3", "-i", "0.3", "-W", "1", tn.tunNet+".1").CombinedOutput()
	t.Logf("ping: %v\n%s", perr, out)
	st := waitStatus(t, m, 20*time.Second, "the compression mismatch in words", func(st Status) bool {
		return strings.Contains(st.LastError, "compression") && strings.Contains(st.LastError, "comp-lzo")
	})
	t.Logf("shown: %s", st.LastError)
}

// TestMissingKeyDirectionSaysWhy: a hand-made profile with an inline
// <tls-auth> but no key-direction, against a server with "tls-auth ta.key
// 0" (pfSense, OPNsense, every 2.x how-to): the key is the right one, but
// used in both directions. The status must name the missing key-direction
// rather than only call the key wrong.
func TestMissingKeyDirectionSaysWhy(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	ta := staticKey(t)
	startOldServer(t, tn, pki, oldSrv{files: map[string]string{"ta.key": ta}, lines: []string{"proto udp", "tls-auth ta.key 0"}})
	cert, key := pki.valid(t, "box-kd", false)
	prof := strings.Join([]string{
		"client", "dev tun", "proto udp", "remote " + tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
		inlineBlock("ca", pki.CA), inlineBlock("cert", cert), inlineBlock("key", key), inlineBlock("tls-auth", ta),
	}, "\n") + "\n"
	m := newTestManager(t, tn, Options{})
	if _, err := m.ImportWithCredentials(strings.NewReader(prof), "handmade.ovpn", Credentials{}); err != nil {
		t.Fatalf("import: %v", err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	st := waitStatus(t, m, 40*time.Second, "the missing key-direction named", func(st Status) bool {
		return strings.Contains(st.LastError, "key-direction 1")
	})
	t.Logf("shown: %s", st.LastError)
}
