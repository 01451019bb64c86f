package openvpn

import (
	"strings"
	"testing"
)

// Sixth round of field profiles: lines a profile marks as optional
// ("setenv opt X", "ignore-unknown-option X" then X: newer OpenVPN's
// and other platforms' options, which openvpn 2.6 skips) were refused
// as "not on the list", a refusal an installer with a phone cannot
// mend; a 2.6 profile's compat-mode for an old server made openvpn
// offer BF-CBC without the legacy provider and refuse to start; and a
// profile with "cipher none" imported, which against a server that
// cannot negotiate sends the remote admins' sessions in the clear.
func TestFieldProfileShapesRound6(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{
			// A hand-edited Windows profile: CRLF, tabs, comments with ;
			// and #, optional lines for other platforms and newer
			// versions, tls-auth given as "[inline] 1" after its block,
			// the server's name checked by its whole subject.
			name: "crlf-tabs-optional",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{cn: "vpn.firma.example", files: map[string]string{"ta.key": e.ta}, lines: []string{"proto udp", "tls-auth ta.key 0"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"; Firma VPN, edited on Windows", "client", "dev\ttun", "proto\tudp\t; the office",
					"remote " + e.tn.srvIP + "\t1194", "nobind", "float", "# for every platform:",
					"setenv opt block-outside-dns", "setenv opt foo-from-2.7 yes",
					"ignore-unknown-option dns-updown route-ipv6-metric-x", "dns-updown disable", "route-ipv6-metric-x 5",
					`verify-x509-name "CN=vpn.firma.example" subject`, "remote-cert-tls server",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
					inlineBlock("tls-auth", e.ta), "tls-auth [inline] 1",
				}, "\r\n") + "\r\n"), "Firma VPN.ovpn"
			},
			wantNotes: []string{`"dns-updown disable" dropped: the profile marks it as optional`,
				`"setenv opt block-outside-dns" dropped: it applies to Windows only`},
		},
		{
			// <connection> blocks with options of their own: the first
			// names a server that is down with a short
			// server-poll-timeout of its own, the second its own port
			// line, proto and MTU.
			name: "connection-own-options",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto tcp-server", "port 1195"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "remote-cert-tls server",
					"<connection>", "remote " + e.dead(t) + " 1194", "proto tcp-client", "server-poll-timeout 4", "connect-retry 1", "</connection>",
					"<connection>", "remote " + e.tn.srvIP, "port 1195", "proto tcp-client", "nobind", "tun-mtu 1400", "mssfix 1360", "</connection>",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "connections.ovpn"
			},
		},
		{
			// A 2.6 profile for a 2.3 server: compat-mode 2.3.0 and no
			// cipher line; the server speaks BF-CBC only.
			name: "compat-2.3-bf-server",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp", "providers legacy default", "data-ciphers BF-CBC", "data-ciphers-fallback BF-CBC"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "compat-mode 2.3.0",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "compat.ovpn"
			},
			wantNotes: []string{`"compat-mode 2.3.0"`, "providers legacy default"},
		},
		{
			// An optional line the box refuses for what it does stays
			// refused: the profile means it to run.
			name: "optional-up-script-refused",
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte("client\ndev tun\nremote 192.0.2.1\nignore-unknown-option up\nup /etc/openvpn/up.sh\n"), "up.ovpn"
			},
			wantImport: "it runs a program on the box",
		},
		{
			name: "cipher-none-refused",
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte("client\ndev tun\nremote 192.0.2.1\ncipher none\n"), "none.ovpn"
			},
			wantImport: "not encrypted",
		},
	})
}

// TestOptionalLinesDropped: what the import does with each line a
// profile marks as optional, and that none of the dropped ones reaches
// openvpn.
func TestOptionalLinesDropped(t *testing.T) {
	const head = "client\ndev tun\nremote 192.0.2.1\n<ca>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n</ca>\n"
	for _, c := range []struct {
		lines     string
		note      string // in the notes; "" with refused
		refused   string
		gone, has string // not in / in the stored text
	}{
		{lines: "setenv opt foo-from-2.7 yes", note: "as optional", gone: "foo-from-2.7"},
		{lines: "setenv opt block-outside-dns", note: "Windows only", gone: "block-outside-dns"},
		{lines: "ignore-unknown-option dns-updown\ndns-updown /etc/openvpn/dns.sh", note: "as optional", gone: "dns.sh"},
		{lines: "setenv opt dns-updown /etc/openvpn/dns.sh", note: "as optional", gone: "dns.sh"},
		{lines: "setenv opt tls-version-min 1.2 or-highest", has: "setenv opt tls-version-min 1.2 or-highest"},
		{lines: "dns-updown disable", refused: "not on the list"},
		{lines: "ignore-unknown-option up\nup /etc/openvpn/up.sh", refused: "runs a program"},
		{lines: "setenv opt plugin /x.so", refused: "runs a program"},
		{lines: "ignore-unknown-option log\nlog /tmp/x", note: "dropped: the box runs OpenVPN itself", gone: "/tmp/x"},
		{lines: "compat-mode 2.3.0", has: "providers legacy default"},
		{lines: "compat-mode 2.5.0", gone: "providers"},
		{lines: "compat-mode 2.3.0\ncipher AES-256-CBC", gone: "BF-CBC"},
		{lines: "tun-mtu-max 1600\nallow-recursive-routing", has: "tun-mtu-max 1600"},
		{lines: "cipher none", refused: "not encrypted"},
		{lines: "data-ciphers AES-256-GCM:none", refused: "not encrypted"},
		{lines: "data-ciphers-fallback NONE", refused: "not encrypted"},
	} {
		p, err := ParseUpload([]byte(head+c.lines+"\n"), "x.ovpn")
		if c.refused != "" {
			if err == nil || !strings.Contains(err.Error(), c.refused) {
				t.Errorf("%q: error %v, want %q", c.lines, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.lines, err)
			continue
		}
		notes := strings.Join(p.Info.Notes, "\n")
		if c.note != "" && !strings.Contains(notes, c.note) {
			t.Errorf("%q: notes %q, want %q", c.lines, notes, c.note)
		}
		if c.gone != "" && strings.Contains(string(p.Text), c.gone) {
			t.Errorf("%q: the stored profile still has %q:\n%s", c.lines, c.gone, p.Text)
		}
		if c.has != "" && !strings.Contains(string(p.Text), c.has) {
			t.Errorf("%q: the stored profile lacks %q:\n%s", c.lines, c.has, p.Text)
		}
	}
}

// TestInlineLineAfterItsBlock: "tls-auth [inline] 1" written after the
// <tls-auth> block made openvpn 2.6 look for a file named "[inline]"
// ("--tls-auth fails with '[inline]'"); the line now gives its key
// direction only, before or after the block.
func TestInlineLineAfterItsBlock(t *testing.T) {
	const head = "client\ndev tun\nremote 192.0.2.1\n"
	ta := "<tls-auth>\n-----BEGIN OpenVPN Static key V1-----\nab\n-----END OpenVPN Static key V1-----\n</tls-auth>\n"
	for _, body := range []string{ta + "tls-auth [inline] 1\n", "tls-auth [inline] 1\n" + ta, "ca [inline]\n<ca>\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n</ca>\n"} {
		p, err := ParseUpload([]byte(head+body), "x.ovpn")
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if strings.Contains(string(p.Text), "[inline]") {
			t.Errorf("%q: the stored profile names [inline]:\n%s", body, p.Text)
		}
		if strings.Contains(body, "tls-auth") && !strings.Contains(string(p.Text), "key-direction 1") {
			t.Errorf("%q: no key-direction 1:\n%s", body, p.Text)
		}
	}
}

// A login file holding the username only (openvpn 2.6 then asks for the
// password): the import refused it ("expected two lines"); now the
// username is kept and the password asked for, and with it given the box
// connects to a server that checks both.
func TestLoginFileUserOnly(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{
			name: "user-only",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: loginLines(t, "proto udp")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "auth-user-pass login.txt", "auth-nocache",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\r\n") + "\r\n"
				return makeTar(t, map[string]string{"vpn/client.ovpn": conf, "vpn/login.txt": "alice\r\n"}), "vpn.tar"
			},
			creds:     Credentials{Password: strp("right-pw")},
			wantNotes: []string{"username alice only"},
		},
		{
			// without the password: the box says it needs the login,
			// and sends no empty password
			name: "user-only-no-pw",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: loginLines(t, "proto udp")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "auth-user-pass login.txt",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"
				return makeTar(t, map[string]string{"client.ovpn": conf, "login.txt": "alice\n"}), "vpn.tar"
			},
			wantStatus: []string{ErrNeedUserPass},
		},
		{
			// a password stored empty on purpose (before the user-only
			// login files, the only way to have none) is still sent:
			// the server, not the box, says whether it will do
			name: "empty-pw-sent",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: loginLines(t, "proto udp")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "auth-user-pass",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"
				return []byte(conf), "client.ovpn"
			},
			creds:      Credentials{Username: strp("alice"), Password: strp("")},
			wantStatus: []string{ErrBadUserPass},
		},
		{
			name: "three-lines",
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return makeTar(t, map[string]string{"client.ovpn": "client\ndev tun\nremote 192.0.2.1\nauth-user-pass login.txt\n",
					"login.txt": "alice\nright-pw\n123456\n"}), "vpn.tar"
			},
			wantImport: "username on its first line and the password on its second",
		},
	})
}
