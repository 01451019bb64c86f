package openvpn

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Profiles in the shapes installers bring from the field that the exporter
// tables do not cover, each against a real openvpn 2.6 server in a
// namespace: does the box connect, and when it cannot, does the status say
// the real reason and what to do?

// b64Lines is data as base64 in 64-column lines, as exporters write
// <pkcs12>.
func b64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc)
	return b.String()
}

type fieldEnv struct {
	tn        *testNet
	pki       *testPKI
	ta        string
	cert, key string
	srv       *testServer // the running server, for after
	m         *Manager    // the box's manager, for after
}

// dead is a server that is down, as the first of several remotes: routed
// through the server's namespace, which does not forward, so nothing
// answers, not even with an ICMP error (an address on the box's own link
// fails at once with "No route to host", which is no test of waiting).
func (e fieldEnv) dead(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", e.tn.cli, "route", "replace", fmt.Sprintf("10.197.%d.0/24", e.tn.n), "via", e.tn.srvIP).CombinedOutput()
	if err != nil {
		t.Fatalf("route to the dead server: %v\n%s", err, out)
	}
	return fmt.Sprintf("10.197.%d.77", e.tn.n)
}

// fieldCase is one profile shape: the server it meets and the upload.
type fieldCase struct {
	name   string
	server func(t testing.TB, e fieldEnv) oldSrv
	upload func(t *testing.T, e fieldEnv) ([]byte, string)
	creds  Credentials
	// wantImport: words of the refusal; else the tunnel must come up,
	// or, with wantStatus, the status must say those words.
	wantImport string
	wantNotes  []string
	wantStatus []string
	after      func(t *testing.T, e fieldEnv)
}

// pass is the passphrase the shapes' encrypted keys use.
const pass = "pässwort mit Leerzeichen"

func TestFieldProfileShapes(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{
			// A Windows-edited profile: BOM, CRLF, comments with ; and
			// #, a comment after a directive, trailing spaces and tabs,
			// blank lines with spaces, a quoted file name with spaces in
			// an archive.
			name: "bom-crlf-comments-quoted-paths",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{"proto udp", "tls-auth ta.key 0"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := "\xef\xbb\xbf" + strings.Join([]string{
					"# Office VPN  ", "; written by hand", "client   ", "dev tun\t", "   ", "proto udp",
					"remote " + e.tn.srvIP + " 1194   # the main office", "; remote 192.0.2.1 1194",
					"nobind  ", "remote-cert-tls server", `ca "My Keys/Office CA.crt"  `, `cert 'My Keys/box cert.crt'`,
					`key "My Keys/box key.key"`, `tls-auth "My Keys/ta key.key" 1   `, "verb 3  ",
				}, "\r\n") + "\r\n"
				return makeTar(t, map[string]string{"office/office.ovpn": conf, "office/My Keys/Office CA.crt": e.pki.CA,
					"office/My Keys/box cert.crt": e.cert, "office/My Keys/box key.key": e.key, "office/My Keys/ta key.key": e.ta}), "office.tar"
			},
		},
		{
			// <connection> blocks, the first one's server down, the second
			// over TCP written "proto tcp" (openvpn reads it as tcp-client).
			name: "connection-blocks-first-dead",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto tcp-server"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "nobind", "remote-cert-tls server",
					"<connection>", "remote " + e.dead(t) + " 1194 udp", "</connection>",
					"<connection>", "remote " + e.tn.srvIP + " 1194", "proto tcp", "</connection>",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "connections.ovpn"
			},
		},
		{
			// Several remotes with their protocol on the line; the first
			// is down over TCP: openvpn waits server-poll-timeout (120 s
			// by default) for a TCP connect before it tries the next.
			name: "remotes-tcp-client-first-dead",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto tcp-server"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "nobind", "remote-cert-tls server",
					"remote " + e.dead(t) + " 1194 tcp-client", "remote " + e.tn.srvIP + " 1194 tcp-client",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "remotes.ovpn"
			},
		},
		{
			// An IPv6 server written "udp6" on the remote line, after a
			// dead IPv4 one.
			name: "remote-udp6",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				for _, c := range [][]string{
					{"-n", e.tn.srv, "addr", "add", fmt.Sprintf("fd00:199:%d::1/64", e.tn.n), "dev", "vs", "nodad"},
					{"-n", e.tn.cli, "addr", "add", fmt.Sprintf("fd00:199:%d::2/64", e.tn.n), "dev", "vc", "nodad"},
				} {
					mustRun(t, "ip", c...)
				}
				return oldSrv{lines: []string{"proto udp6", fmt.Sprintf("local fd00:199:%d::1", e.tn.n)}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "nobind", "remote-cert-tls server",
					"remote " + e.dead(t) + " 1194 udp4", fmt.Sprintf("remote fd00:199:%d::1 1194 udp6", e.tn.n),
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "udp6.ovpn"
			},
		},
		{
			// A Linux how-to's client.conf: the DNS helper as up/down
			// with script-security, a log, a status file, daemon, a pid
			// file, cd, a management port. Before, each was refused.
			name: "linux-howto",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "cd /etc/openvpn",
					"script-security 2", "up /etc/openvpn/update-resolv-conf", "down /etc/openvpn/update-resolv-conf",
					"status /var/log/openvpn-status.log", "log-append /var/log/openvpn.log", "daemon",
					"writepid /run/openvpn/client.pid", "management 127.0.0.1 7505",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "howto.conf"
			},
			wantNotes: []string{"update-resolv-conf", "keeps its log", "own management interface"},
		},
		{
			// The login inline: taken out of the profile and stored.
			name: "auth-user-pass-inline",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: loginLines(t, "proto udp")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "auth-user-pass",
					"<auth-user-pass>", "alice", "right-pw", "</auth-user-pass>",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "inline-login.ovpn"
			},
		},
		{
			// "auth-user-pass login.txt" in a lone .ovpn: the file stays on
			// the laptop it was exported to. The box can ask for the login
			// itself; the installer cannot edit the file on a phone.
			name: "auth-user-pass-file-not-uploaded",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: loginLines(t, "proto udp")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					`auth-user-pass "C:\\Program Files\\OpenVPN\\config\\login.txt"`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "login-file.ovpn"
			},
			creds:     Credentials{Username: strp("alice"), Password: strp("right-pw")},
			wantNotes: []string{"login.txt", "username and password"},
		},
		{
			// The same in an archive that lacks the file.
			name: "login-file-not-in-archive",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: loginLines(t, "proto udp")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"auth-user-pass /etc/openvpn/pass.txt", "ca ca.crt", "cert box.crt", "key box.key",
				}, "\n") + "\n"
				return makeTar(t, map[string]string{"client.conf": conf, "ca.crt": e.pki.CA, "box.crt": e.cert, "box.key": e.key}), "login.tar"
			},
			wantNotes:  []string{"pass.txt"},
			wantStatus: []string{ErrNeedUserPass},
		},
		{
			// askpass (no file): on a PC openvpn asked on the terminal.
			// The box asks in its VPN step instead; the passphrase comes
			// with the upload.
			name: "askpass-encrypted-key",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "askpass", "auth-nocache",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", encryptKey(t, e.key, pass)),
				}, "\n") + "\n"), "askpass.ovpn"
			},
			creds:     Credentials{Passphrase: strp(pass)},
			wantNotes: []string{"askpass", "passphrase"},
		},
		{
			// "askpass pass.txt" with the file in the archive: it is the
			// passphrase, stored with the secrets, not in the profile.
			name: "askpass-file-in-archive",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "askpass pass.txt",
					"ca ca.crt", "cert box.crt", "key box.key",
				}, "\r\n") + "\r\n"
				return makeTar(t, map[string]string{"client.conf": conf, "ca.crt": e.pki.CA, "box.crt": e.cert,
					"box.key": encryptKey(t, e.key, pass), "pass.txt": pass + "\r\n"}), "askpass.tar"
			},
			wantNotes: []string{"askpass"},
		},
		{
			// A 2.0-era server: BF-CBC only, which openvpn 2.6 has only
			// in OpenSSL's legacy provider and as a fallback cipher.
			name: "bf-cbc-only",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp", "providers legacy default", "data-ciphers BF-CBC", "data-ciphers-fallback BF-CBC"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "cipher BF-CBC",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "bf.ovpn"
			},
			wantNotes: []string{"providers legacy default"},
		},
		{
			// The server's name has spaces; verify-x509-name quotes it.
			name: "verify-x509-name-with-spaces",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{cn: "Office VPN Server", lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					`verify-x509-name "Office VPN Server" name`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "x509name.ovpn"
			},
		},
		{
			// A profile checking the wrong name: refused at the handshake,
			// and the status must say it is the server's name.
			name: "verify-x509-name-wrong",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{cn: "Office VPN Server", lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					`verify-x509-name 'Branch VPN Server' name`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "x509wrong.ovpn"
			},
			wantStatus: []string{"Office VPN Server", "Branch VPN Server"},
		},
		{
			// tls-crypt-v2 with <extra-certs> (the CA chain again, as
			// exporters with an intermediate write it).
			name: "tls-crypt-v2-extra-certs",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				v2s, _ := splitV2(e.ta)
				return oldSrv{files: map[string]string{"v2.key": v2s}, lines: []string{"proto udp", "tls-crypt-v2 v2.key"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				_, v2c := splitV2(e.ta)
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("extra-certs", e.pki.CA), inlineBlock("tls-crypt-v2", v2c),
				}, "\n") + "\n"), "v2.ovpn"
			},
		},
		{
			// A PKCS#12 with a password given with the upload.
			name: "pkcs12-with-password",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"<pkcs12>", b64Lines(pkcs12With(t, e.pki, e.cert, e.key, pass)), "</pkcs12>",
				}, "\n") + "\n"), "p12pass.ovpn"
			},
			creds: Credentials{Passphrase: strp(pass)},
		},
		{
			// The same without the password: the box must ask for it.
			name: "pkcs12-password-not-given",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"<pkcs12>", b64Lines(pkcs12With(t, e.pki, e.cert, e.key, pass)), "</pkcs12>",
				}, "\n") + "\n"), "p12nopass.ovpn"
			},
			wantStatus: []string{ErrNeedPassphrase},
		},
		{
			// A bridging server: dev tap.
			name: "dev-tap",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp", "dev tap"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tap", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "tap.ovpn"
			},
		},
		{
			// route-nopull and pull-filter, reneg-sec 0 and the MTU lines
			// of an old server.
			name: "pull-filter-mtu-reneg",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp", "tun-mtu 1400", "fragment 1300", "mssfix 1200", "reneg-sec 0",
					`push "route 10.98.0.0 255.255.0.0"`, `push "redirect-gateway def1"`}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "tun-mtu 1400",
					"fragment 1300", "mssfix 1200", "reneg-sec 0", `pull-filter ignore "redirect-gateway"`,
					`pull-filter ignore "route 10.98."`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "pullfilter.ovpn"
			},
			after: func(t *testing.T, e fieldEnv) {
				out := mustRun(t, "ip", "netns", "exec", e.tn.cli, "ip", "route")
				if strings.Contains(out, "10.98.0.0") || strings.Contains(out, "0.0.0.0/1") {
					t.Errorf("pull-filter: a filtered push was applied:\n%s", out)
				}
			},
		},
		{
			// Lines openvpn 2.6 removed or never needed, from a 2.3
			// client: ncp-disable, key-method 2, ns-cert-type server.
			name: "removed-directives",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{ns: true, lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "ncp-disable",
					"key-method 2", "ns-cert-type server", "cipher AES-256-GCM",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "removed.ovpn"
			},
			wantNotes: []string{"ncp-disable", "key-method"},
		},
		{
			// "comp-lzo no" from a 2.3 client on a server without any
			// compression: openvpn still adds a header byte, the server
			// sends none, and nothing passes. The status must name the
			// line and say to remove it.
			name: "comp-lzo-no-server-without-compression",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "comp-lzo no",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "complzono.ovpn"
			},
			wantStatus: []string{"compression mismatch", `"comp-lzo no"`, "remove that line"},
		},
		{
			// tls-remote with an old-style subject: its common name is
			// checked.
			name: "tls-remote-subject",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{cn: "vpn gw", lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", `tls-remote "/C=DE/O=Firm/CN=vpn gw"`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "tlsremote-subject.ovpn"
			},
			wantNotes: []string{"verify-x509-name", "vpn gw", "common name"},
		},
		{
			// tls-remote (removed in 2.4) with a common name: the check it
			// asked for is kept as verify-x509-name.
			name: "tls-remote-common-name",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{cn: "vpn-gw", lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "tls-remote vpn-gw",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "tlsremote.ovpn"
			},
			wantNotes: []string{"tls-remote", "verify-x509-name vpn-gw name"},
		},
	})
}

// runFieldCases imports each shape and connects it to its real server
// (or checks the refusal or the status words it wants).
func runFieldCases(t *testing.T, cases []fieldCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tn := newTestNet(t)
			pki := newTestPKI(t)
			cert, key := pki.valid(t, "box-"+c.name, false)
			ta := staticKey(t)
			if strings.Contains(c.name, "tls-crypt-v2") {
				s, cl := tlsCryptV2Keys(t)
				ta = s + "\x00" + cl
			}
			e := fieldEnv{tn: tn, pki: pki, ta: ta, cert: cert, key: key}
			if c.wantImport == "" {
				e.srv = startOldServer(t, tn, pki, c.server(t, e))
			}
			data, name := c.upload(t, e)
			m := newTestManager(t, tn, Options{})
			e.m = m
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
			if strings.HasPrefix(c.name, "pkcs12-") && !info.KeyEncrypted {
				t.Error("the import does not say the PKCS#12 key is encrypted")
			}
			runManager(t, m)
			m.SetUplink(true, "wan")
			if len(c.wantStatus) > 0 {
				st := waitStatus(t, m, 40*time.Second, "the reason shown", func(st Status) bool {
					for _, w := range c.wantStatus {
						if !strings.Contains(st.LastError, w) {
							return false
						}
					}
					return true
				})
				t.Logf("shown: %s", st.LastError)
				if c.after != nil {
					c.after(t, e)
				}
				return
			}
			// openvpn's own default waits 120 s for a dead server before it tries
			// the next: too long for an installer watching the VPN step.
			waitStatus(t, m, 75*time.Second, "CONNECTED", connected)
			mustRun(t, "ip", "netns", "exec", tn.cli, "ping", "-c", "1", "-W", "3", tn.tunNet+".1")
			if c.after != nil {
				c.after(t, e)
			}
		})
	}
}

// splitV2 undoes the packing of a tls-crypt-v2 server and client key into
// fieldEnv.ta.
func splitV2(ta string) (server, client string) {
	s, c, _ := strings.Cut(ta, "\x00")
	return s, c
}

// TestFieldConversionsNameNoFile: the converted lines never make openvpn
// read a file on the box: the file names of askpass and auth-user-pass are
// gone from the stored profile, tls-remote became verify-x509-name.
func TestFieldConversionsNameNoFile(t *testing.T) {
	for _, c := range []struct{ line, want, gone string }{
		{"askpass /etc/shadow", "", "askpass"},
		{"askpass", "", "askpass"},
		{"auth-user-pass /etc/shadow", "auth-user-pass\n", "/etc/shadow"},
		{`auth-user-pass "C:\\Users\\me\\login.txt"`, "auth-user-pass\n", "login.txt"},
		{"tls-remote vpn.example.com", "verify-x509-name vpn.example.com name\n", "tls-remote"},
		{"status /var/log/openvpn-status.log", "", "/var/log"},
		{"log-append /var/log/openvpn.log", "", "/var/log"},
		{"writepid /run/openvpn.pid", "", "/run"},
		{"daemon", "", "daemon"},
		{"cd /etc/openvpn", "", "/etc/openvpn"},
		{`dev-node "OpenVPN TAP-Windows6"`, "", "TAP"},
		{"management 127.0.0.1 7505", "", "7505"},
		{"script-security 2", "", "script-security"},
		{"up /etc/openvpn/update-resolv-conf", "", "update-resolv-conf"},
		{"down /etc/openvpn/update-systemd-resolved", "", "update-systemd-resolved"},
		{`tls-remote "/C=DE/CN=vpn gw"`, "verify-x509-name \"vpn gw\" name\n", "tls-remote"},
	} {
		p, err := ParseProfile([]byte(base(c.line)), "box.ovpn", nil)
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		text := string(p.Text)
		if !strings.Contains(text, c.want) || strings.Contains(text, c.gone) {
			t.Errorf("%q stored as:\n%s", c.line, text)
		}
		if len(p.Info.Notes) == 0 {
			t.Errorf("%q: converted without a note", c.line)
		}
	}
	// An archive's askpass file is the passphrase, kept out of the profile.
	files := map[string][]byte{"pass.txt": []byte("geheim\r\n")}
	p, err := ParseProfile([]byte(base("askpass pass.txt")), "box.conf", files)
	if err != nil {
		t.Fatal(err)
	}
	if p.Credentials == nil || p.Credentials.Passphrase == nil || *p.Credentials.Passphrase != "geheim" {
		t.Errorf("askpass file not taken as the passphrase: %+v", p.Credentials)
	}
	if strings.Contains(string(p.Text), "geheim") || strings.Contains(string(p.Text), "askpass") {
		t.Errorf("stored profile keeps the passphrase or askpass:\n%s", p.Text)
	}
}
