package openvpn

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"edgebox/internal/testenv"
)

// startTinyproxy runs a real HTTP proxy (Debian's tinyproxy) on the
// server's address, port 3128, letting CONNECT through to port 1194 only;
// with a user, it asks for Basic credentials.
func startTinyproxy(t testing.TB, tn *testNet, user, pass string) {
	t.Helper()
	testenv.RequireRoot(t, "/usr/bin/tinyproxy")
	conf := fmt.Sprintf("Port 3128\nListen %s\nTimeout 60\nAllow 10.199.0.0/16\nConnectPort 1194\nMaxClients 10\nLogLevel Info\n", tn.srvIP)
	if user != "" {
		conf += fmt.Sprintf("BasicAuth %s %s\n", user, pass)
	}
	path := filepath.Join(t.TempDir(), "tinyproxy.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testenv.Command(t, "ip", "netns", "exec", tn.srv, "/usr/bin/tinyproxy", "-d", "-c", path).Start()
	testenv.WaitFor(t, 5*time.Second, "tinyproxy listening", func() (bool, error) {
		out, _ := testenv.Command(t, "ip", "netns", "exec", tn.srv, "ss", "-ltn").Cmd.CombinedOutput()
		return strings.Contains(string(out), tn.srvIP+":3128"), fmt.Errorf("its log:\n%s", p.Log.String())
	})
}

// utf16LE is s as Windows Notepad saves "Unicode": UTF-16 little-endian
// with its byte-order mark.
func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, c := range utf16.Encode([]rune(s)) {
		out = append(out, byte(c), byte(c>>8))
	}
	return out
}

// Windows exports, fifth round: profiles saved as UTF-16 ("Unicode" in
// Notepad's Save As, some consoles' export) were refused as "not a text
// file"; they are converted, and connect.
func TestFieldProfileShapesRound5(t *testing.T) {
	oldRouter := func(t testing.TB, e fieldEnv) oldSrv {
		return oldSrv{ns: true, files: map[string]string{"ta.key": e.ta}, lines: []string{
			"proto udp", "tls-auth ta.key 0", "comp-lzo", "cipher AES-128-CBC", "auth SHA256",
			"data-ciphers AES-128-CBC", "data-ciphers-fallback AES-128-CBC",
		}}
	}
	runFieldCases(t, []fieldCase{
		{
			// A whole profile saved as UTF-16LE with CRLF: inline keys,
			// tls-auth with key-direction, ns-cert-type, a legacy
			// tls-cipher list, comp-lzo.
			name:   "utf16le-windows-export",
			server: oldRouter,
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"ns-cert-type server", "comp-lzo", "cipher AES-128-CBC", "auth SHA256",
					"tls-cipher TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384:TLS-DHE-RSA-WITH-AES-256-CBC-SHA:TLS-DHE-RSA-WITH-AES-128-CBC-SHA",
					"key-direction 1", "verb 3",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key), inlineBlock("tls-auth", e.ta),
				}, "\r\n") + "\r\n"
				return utf16LE(conf), "Büro.ovpn"
			},
			wantNotes: []string{"UTF-16", "converted to UTF-8"},
		},
		{
			// OpenVPN GUI 2.5's Windows export, with an old Linux
			// how-to's lines: windows-driver, nice, mlock and opt-verify
			// are dropped with notes, passtos kept.
			name:   "windows-25-export-old-lines",
			server: oldRouter,
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "windows-driver wintun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"nice 5", "mlock", "opt-verify", "passtos", "ns-cert-type server", "comp-lzo", "cipher AES-128-CBC", "auth SHA256",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta), "key-direction 1",
				}, "\r\n") + "\r\n"), "win25.ovpn"
			},
			wantNotes: []string{`"windows-driver wintun" dropped`, `"opt-verify" dropped`},
		},
		{
			// A bridged server (DD-WRT, an office router) with an
			// address pool: dev tap, server-bridge gw mask start end.
			name: "tap-server-bridge-pool",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				n := e.tn.tunNet
				return oldSrv{lines: []string{"proto udp", "dev tap", "ifconfig " + n + ".1 255.255.255.0",
					"server-bridge " + n + ".1 255.255.255.0 " + n + ".100 " + n + ".150"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tap", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "bridge.ovpn"
			},
		},
		{
			// A bridged server that leaves addresses to the office's DHCP
			// server (server-bridge without a pool): openvpn on Linux
			// asks no DHCP, so the box would sit "connected" with no
			// address; the status says so and what to ask for.
			name: "tap-server-bridge-dhcp",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp", "dev tap", "server-bridge"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tap", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "bridge-dhcp.ovpn"
			},
			wantStatus: []string{"DHCP"},
		},
		{
			// Key and certificate files saved by Notepad as UTF-8 with a
			// BOM, beside the config in the zip.
			name:   "utf8-bom-files-in-archive",
			server: oldRouter,
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"ca ca.crt", "cert box.crt", "key box.key", "tls-auth ta.key 1",
					"remote-cert-tls server", "comp-lzo", "cipher AES-128-CBC", "auth SHA256",
				}, "\r\n") + "\r\n"
				bom := func(s string) string { return "\xef\xbb\xbf" + strings.ReplaceAll(s, "\n", "\r\n") }
				return makeTar(t, map[string]string{"office/office.ovpn": bom(conf), "office/ca.crt": bom(e.pki.CA),
					"office/box.crt": bom(e.cert), "office/box.key": bom(e.key), "office/ta.key": bom(e.ta)}), "office.tar"
			},
		},
		{
			// The config and its key files saved as UTF-16 inside the
			// zip a Windows admin made of the config folder.
			name:   "utf16-files-in-archive",
			server: oldRouter,
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"ca ca.crt", "cert box.crt", "key box.key", "tls-auth ta.key 1",
					"remote-cert-tls server", "comp-lzo", "cipher AES-128-CBC", "auth SHA256",
				}, "\r\n") + "\r\n"
				crlf := func(s string) string { return string(utf16LE(strings.ReplaceAll(s, "\n", "\r\n"))) }
				return makeTar(t, map[string]string{"office/office.ovpn": string(utf16LE(conf)), "office/ca.crt": crlf(e.pki.CA),
					"office/box.crt": crlf(e.cert), "office/box.key": crlf(e.key), "office/ta.key": crlf(e.ta)}), "office.tar"
			},
			wantNotes: []string{"UTF-16"},
		},
		{
			// An old server that pushes its compression: the profile has
			// no comp line (the admin left it to the push); openvpn 2.6
			// refuses pushed compression unless allowed.
			name: "server-pushes-comp-lzo",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp", "tls-auth ta.key 0", "comp-lzo", `push "comp-lzo yes"`, "cipher AES-256-CBC",
					"data-ciphers AES-256-GCM:AES-256-CBC",
				}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta), "key-direction 1",
				}, "\n") + "\n"), "pushed-lzo.ovpn"
			},
		},
		{
			name: "server-pushes-compress-lz4",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp", "tls-auth ta.key 0", "compress lz4-v2", `push "compress lz4-v2"`,
				}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta), "key-direction 1",
				}, "\n") + "\n"), "pushed-lz4.ovpn"
			},
		},
		{
			// A site whose only way out is the company's HTTP proxy: TCP
			// to the server through CONNECT (tinyproxy), proto tcp-client,
			// and the 2.3 how-to's http-proxy-retry and -timeout, which
			// openvpn 2.6 refuses (the import refused them before).
			name: "tcp-client-through-http-proxy",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				startTinyproxy(t, e.tn, "", "")
				return oldSrv{lines: []string{"proto tcp-server"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto tcp-client", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"http-proxy " + e.tn.srvIP + " 3128", "http-proxy-retry", "http-proxy-timeout 10",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "proxy.ovpn"
			},
			wantNotes: []string{`"http-proxy-retry" dropped: it is obsolete`},
		},
		{
			// The proxy wants a login, given inline in the profile.
			name: "http-proxy-basic-inline-login",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				startTinyproxy(t, e.tn, "boxuser", "geheim42")
				return oldSrv{lines: []string{"proto tcp-server"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto tcp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"http-proxy " + e.tn.srvIP + " 3128 [inline] basic",
					inlineBlock("http-proxy-user-pass", "boxuser\ngeheim42"),
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "proxy-login.ovpn"
			},
		},
		{
			// The same push, and the profile forbids it: the status says
			// which line to remove.
			name: "lzo-pushed-forbidden",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{files: map[string]string{"ta.key": e.ta}, lines: []string{
					"proto udp", "tls-auth ta.key 0", "comp-lzo", `push "comp-lzo yes"`,
				}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"allow-compression no",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta), "key-direction 1",
				}, "\n") + "\n"), "forbids.ovpn"
			},
			wantStatus: []string{"pushes compression", "allow-compression"},
		},
		{
			// Binary (an old Word document renamed .ovpn): refused, saying
			// what to upload.
			name: "binary-not-a-profile",
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x00\x00\x00\x00\x00\x00>\x00\x03\x00\xfe\xff"), "office.ovpn"
			},
			wantImport: "upload the .ovpn file itself",
		},
	})
}

// A refused line with a Windows path ("up C:\...\connect.bat") is refused
// for what it does, not for its backslashes ("bad backslash: only \\, \"
// and \<space> are escapes" before, which told the admin nothing); a
// single backslash elsewhere says how to write the path.
func TestWindowsPathOnRefusedLine(t *testing.T) {
	_, err := ParseProfile([]byte("client\ndev tun\nremote vpn.example.net 1194\nup C:\\Programme\\OpenVPN\\connect.bat\n"), "win.ovpn", nil)
	if err == nil || !strings.Contains(err.Error(), "it runs a program on the box") || strings.Contains(err.Error(), "backslash") {
		t.Errorf("up with a Windows path: %v", err)
	}
	_, err = ParseProfile([]byte("client\ndev tun\nremote vpn.example.net 1194\nverify-x509-name C:\\x name\n"), "win.ovpn", nil)
	if err == nil || !strings.Contains(err.Error(), "write Windows paths with double backslashes or with /") {
		t.Errorf("a single backslash: %v", err)
	}
}

// Lines of Windows exports and old Linux how-tos that openvpn 2.6 on the
// box need not see are dropped with a note, not refused: windows-driver
// (OpenVPN 2.5 GUI exports), nice and mlock, opt-verify; passtos is kept.
// The import refused each before ("not on the list", "not configurable
// from a profile", and opt-verify as "it runs a program").
func TestOldClientLinesDropped(t *testing.T) {
	p, err := ParseProfile([]byte("client\ndev tun\nremote vpn.example.net 1194\nwindows-driver wintun\nnice 5\nmlock\nopt-verify\npasstos\n"), "old.ovpn", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantShown(t, p.Info, `"windows-driver wintun" dropped: it applies to Windows only`, `"nice 5" dropped`, `"mlock" dropped`, `"opt-verify" dropped: it is deprecated`)
	if !strings.Contains(string(p.Text), "\npasstos\n") {
		t.Errorf("passtos not kept:\n%s", p.Text)
	}
}

// fromUTF16 reads the UTF-16 forms Windows tools write (with a byte-order
// mark either way round, or none) and leaves UTF-8 and binary alone.
func TestFromUTF16(t *testing.T) {
	text := "client\r\nremote vpn.example.net 1194 # Büro\r\n"
	be := func(s string) []byte {
		var out []byte
		for _, c := range utf16.Encode([]rune(s)) {
			out = append(out, byte(c>>8), byte(c))
		}
		return out
	}
	for _, c := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"LE with BOM", utf16LE(text), true},
		{"LE without BOM", utf16LE(text)[2:], true},
		{"BE with BOM", append([]byte{0xFE, 0xFF}, be(text)...), true},
		{"BE without BOM", be(text), true},
		{"UTF-8", []byte(text), false},
		{"binary", []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), false},
	} {
		got, ok := fromUTF16(c.in)
		if ok != c.ok || ok && string(got) != text {
			t.Errorf("%s: %q %v", c.name, got, ok)
		}
	}
}

// A login or passphrase file saved by Notepad as "UTF-8 with BOM": the
// mark is not part of the username or passphrase (the server refused the
// login, or the key stayed locked, with a BOM in front).
func TestBOMNotInSecrets(t *testing.T) {
	files := map[string][]byte{"login.txt": []byte("\xef\xbb\xbfboxuser\r\ngeheim\r\n"), "pass.txt": []byte("\xef\xbb\xbfpässwort\r\n")}
	p, err := ParseProfile([]byte("client\ndev tun\nremote vpn.example.net 1194\nauth-user-pass login.txt\naskpass pass.txt\n"), "office/office.ovpn", files)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Credentials
	if c == nil || c.Username == nil || *c.Username != "boxuser" || c.Passphrase == nil || *c.Passphrase != "pässwort" {
		t.Errorf("credentials %+v", c)
	}
}
