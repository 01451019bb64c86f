package openvpn

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// The fourth round of field shapes (outside checks with new cases), each
// against a real openvpn 2.6 server in a namespace, as TestFieldProfileShapes.

// encryptECTraditional encrypts an EC key the way "openssl ec -aes256"
// and older easy-rsa write it: "BEGIN EC PRIVATE KEY" with Proc-Type and
// DEK-Info headers, not PKCS#8.
func encryptECTraditional(t testing.TB, keyPEM, pass string) string {
	t.Helper()
	cmd := exec.Command("openssl", "ec", "-aes256", "-passout", "pass:"+pass)
	cmd.Stdin = strings.NewReader(keyPEM)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl ec: %v", err)
	}
	if !strings.Contains(string(out), "Proc-Type: 4,ENCRYPTED") {
		t.Fatalf("openssl did not write a traditional encrypted key: %s", out)
	}
	return string(out)
}

// v6Addrs gives both namespaces an IPv6 address on their veth and returns
// the server's.
func v6Addrs(t testing.TB, e fieldEnv) string {
	t.Helper()
	mustRun(t, "ip", "-n", e.tn.srv, "addr", "add", fmt.Sprintf("fd00:199:%d::1/64", e.tn.n), "dev", "vs", "nodad")
	mustRun(t, "ip", "-n", e.tn.cli, "addr", "add", fmt.Sprintf("fd00:199:%d::2/64", e.tn.n), "dev", "vc", "nodad")
	return fmt.Sprintf("fd00:199:%d::1", e.tn.n)
}

// otherCA is a second, unrelated CA certificate as a bundle would carry it.
func otherCA(t testing.TB) string { return newTestPKI(t).CA }

func TestFieldProfileShapesRound4(t *testing.T) {
	runFieldCases(t, []fieldCase{
		{
			// remote-random over host/port/proto triples of three kinds:
			// a dead UDP server, a TCP port nobody listens on, and the
			// server on IPv6 over TCP.
			name: "triples-mixed-tcp6-remote-random",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto tcp6-server", "local " + v6Addrs(t, e)}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "nobind", "remote-cert-tls server", "remote-random",
					"remote " + e.dead(t) + " 1194 udp", "remote " + e.tn.srvIP + " 1195 tcp-client",
					fmt.Sprintf("remote fd00:199:%d::1 1194 tcp6", e.tn.n),
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "triples.ovpn"
			},
		},
		{
			// "pkcs12 name.p12" with the file beside the profile in the
			// archive, encrypted, the passphrase given with the upload.
			name: "pkcs12-file-in-archive",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"remote-cert-tls server", `pkcs12 "Box Zert.p12"`}, "\r\n") + "\r\n"
				return makeTar(t, map[string]string{"box/box.ovpn": conf,
					"box/Box Zert.p12": string(pkcs12With(t, e.pki, e.cert, e.key, pass))}), "box.tar"
			},
			creds: Credentials{Passphrase: strp(pass)},
		},
		{
			// The same file without a passphrase.
			name: "p12-file-unencrypted",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				conf := strings.Join([]string{"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"remote-cert-tls server", "pkcs12 box.p12"}, "\n") + "\n"
				return makeTar(t, map[string]string{"box.ovpn": conf, "box.p12": string(pkcs12Of(t, e.pki, e.cert, e.key))}), "box.tar"
			},
		},
		{
			// Key usage and extended key usage checked by hand, as
			// pfSense and older how-tos write them.
			name: "remote-cert-ku-eku",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					"remote-cert-ku a0 88", `remote-cert-eku "TLS Web Server Authentication"`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "ku.ovpn"
			},
		},
		{
			// topology net30 (the 2.0-2.3 default), the server pushing
			// all traffic through it and its DNS server. The box keeps its
			// uplink's default route (def1's two /1 routes carry the
			// rest), and its DNS stays the uplink's.
			name: "topology-net30-pushed-def1-dns",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				mustRun(t, "ip", "netns", "exec", e.tn.cli, "ip", "route", "add", "default", "via", e.tn.srvIP)
				return oldSrv{lines: []string{"proto udp", "topology net30", `push "redirect-gateway def1"`,
					`push "dhcp-option DNS 10.200.0.53"`}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "net30.ovpn"
			},
			after: func(t *testing.T, e fieldEnv) {
				routes := mustRun(t, "ip", "netns", "exec", e.tn.cli, "ip", "-4", "route", "show")
				if !strings.Contains(routes, "default via "+e.tn.srvIP) || !strings.Contains(routes, "0.0.0.0/1 via "+e.tn.tunNet) {
					t.Errorf("routes after a pushed def1 on net30:\n%s", routes)
				}
			},
		},
		{
			// A <ca> bundle as "openssl pkcs12 -nokeys" writes it: Bag
			// Attributes and subject lines before each certificate, an
			// unrelated root first; the key EC in the traditional
			// encrypted form.
			name: "ca-text-ec-key",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				bundle := strings.Join([]string{
					"Bag Attributes", "    friendlyName: Old Root", "subject=CN = Old Root", "issuer=CN = Old Root",
					strings.TrimSpace(otherCA(t)), "", "Bag Attributes", "    friendlyName: Office CA",
					"subject=CN = test CA", "issuer=CN = test CA", strings.TrimSpace(e.pki.CA), "trailing words from a copy and paste",
				}, "\n")
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					inlineBlock("ca", bundle), inlineBlock("cert", e.cert), inlineBlock("key", encryptECTraditional(t, e.key, pass)),
				}, "\n") + "\n"), "bundle.ovpn"
			},
			creds: Credentials{Passphrase: strp(pass)},
		},
		{
			// A profile last saved by a Windows editor in Latin-1: CRLF,
			// comments with umlauts as single bytes, tabs between the
			// words, inline tags and key lines with trailing spaces.
			name: "latin1-tabs-trailing-spaces",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: []string{"proto udp"}}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				trail := func(tag, body string) string {
					lines := strings.Split(strings.TrimSpace(body), "\n")
					return "<" + tag + ">  \n" + strings.Join(lines, "  \n") + "\t\n</" + tag + ">   "
				}
				return []byte(strings.ReplaceAll(strings.Join([]string{
					"# VPN B\xfcro M\xfcnchen (Gesch\xe4ftsf\xfchrung)", "client", "dev\ttun", "proto\tudp",
					"remote\t" + e.tn.srvIP + "\t1194\t# Zentrale Stra\xdfe", "nobind", "remote-cert-tls\tserver",
					"; Schl\xfcssel folgen", trail("ca", e.pki.CA), trail("cert", e.cert), trail("key", e.key),
				}, "\n")+"\n", "\n", "\r\n")), "latin1.ovpn"
			},
		},
		{
			// auth-nocache with a login and a server renegotiating every
			// few seconds: openvpn asks for the login again at each
			// renegotiation, and the tunnel must stay up.
			name: "reneg-sec-login-nocache",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: append(loginLines(t), "proto udp", "reneg-sec 4")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"auth-user-pass", "auth-nocache",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "reneg.ovpn"
			},
			creds: Credentials{Username: strp("alice"), Password: strp("right-pw")},
			after: func(t *testing.T, e fieldEnv) {
				// Two renegotiations the server accepted the login in.
				testenv.WaitFor(t, 30*time.Second, "two renegotiations", func() (bool, error) {
					return strings.Count(e.srv.out.String(), "TLS: soft reset") >= 2, fmt.Errorf("server:\n%s", testenv.Tail(e.srv.out.String(), 2000))
				})
				waitStatus(t, e.m, 15*time.Second, "CONNECTED after renegotiation", connected)
				mustRun(t, "ip", "netns", "exec", e.tn.cli, "ping", "-c", "1", "-W", "3", e.tn.tunNet+".1")
				if st := e.m.Status(); st.LastError != "" {
					t.Errorf("error shown after renegotiation: %s", st.LastError)
				}
			},
		},
		{
			// A server handing out auth tokens (Access Server, pfSense
			// with auth-gen-token) restarts: its new token key makes the
			// box's token worthless. The box must log in again with the
			// stored password, not stop at "login refused".
			name: "auth-token-server-restart",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: append(loginLines(t), "proto udp", "auth-gen-token 3600")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"auth-user-pass",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "token.ovpn"
			},
			creds: Credentials{Username: strp("alice"), Password: strp("right-pw")},
			after: func(t *testing.T, e fieldEnv) {
				if !e.srv.out.Contains("auth-token") && !e.srv.out.Contains("Auth-token") {
					t.Logf("server output does not mention the token:\n%s", testenv.Tail(e.srv.out.String(), 1500))
				}
				e.srv.kill()
				waitStatus(t, e.m, 20*time.Second, "the tunnel noticed the server gone", func(st Status) bool { return st.State != StateConnected })
				e.srv.start()
				st := waitStatus(t, e.m, 60*time.Second, "CONNECTED again after the server's restart", func(st Status) bool {
					return connected(st) || st.State == StateNeedsLogin
				})
				if st.State == StateNeedsLogin {
					t.Fatalf("after the server's restart the box stopped at: %s", st.LastError)
				}
				mustRun(t, "ip", "netns", "exec", e.tn.cli, "ping", "-c", "1", "-W", "3", e.tn.tunNet+".1")
			},
		},
		{
			// The same with auth-nocache (pfSense's exporter offers it):
			// openvpn keeps no password and asks the box again once its
			// token is refused.
			name: "token-nocache-restart",
			server: func(t testing.TB, e fieldEnv) oldSrv {
				return oldSrv{lines: append(loginLines(t), "proto udp", "auth-gen-token 3600")}
			},
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "remote-cert-tls server",
					"auth-user-pass", "auth-nocache",
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "token.ovpn"
			},
			creds: Credentials{Username: strp("alice"), Password: strp("right-pw")},
			after: func(t *testing.T, e fieldEnv) {
				if !e.srv.out.Contains("auth-token") && !e.srv.out.Contains("Auth-token") {
					t.Logf("server output does not mention the token:\n%s", testenv.Tail(e.srv.out.String(), 1500))
				}
				e.srv.kill()
				waitStatus(t, e.m, 20*time.Second, "the tunnel noticed the server gone", func(st Status) bool { return st.State != StateConnected })
				e.srv.start()
				st := waitStatus(t, e.m, 60*time.Second, "CONNECTED again after the server's restart", func(st Status) bool {
					return connected(st) || st.State == StateNeedsLogin
				})
				if st.State == StateNeedsLogin {
					t.Fatalf("after the server's restart the box stopped at: %s", st.LastError)
				}
				mustRun(t, "ip", "netns", "exec", e.tn.cli, "ping", "-c", "1", "-W", "3", e.tn.tunNet+".1")
			},
		},
		{
			// A one-time code at every connect (static-challenge, as
			// Access Server and pfSense with TOTP export it): the box
			// connects unattended and cannot type one. Refused at import,
			// in words, not shown as "wrong password" later.
			name: "static-challenge",
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				return []byte(strings.Join([]string{
					"client", "dev tun", "proto udp", "remote " + e.tn.srvIP + " 1194", "nobind", "auth-user-pass",
					`static-challenge "Enter Google Authenticator Code" 1`,
					inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key),
				}, "\n") + "\n"), "otp.ovpn"
			},
			wantImport: "one-time code",
		},
		{
			// 100 remotes (a provider's list of every server): refused
			// with the bound in words.
			name: "hundred-remotes",
			upload: func(t *testing.T, e fieldEnv) ([]byte, string) {
				lines := []string{"client", "dev tun", "proto udp", "nobind"}
				for i := range 100 {
					lines = append(lines, fmt.Sprintf("remote 10.197.%d.%d 1194", e.tn.n, i+1))
				}
				lines = append(lines, inlineBlock("ca", e.pki.CA), inlineBlock("cert", e.cert), inlineBlock("key", e.key))
				return []byte(strings.Join(lines, "\n") + "\n"), "provider.ovpn"
			},
			wantImport: "lists 100 VPN servers (remote lines), and the box takes at most 64",
		},
	})
}

// A refused line reads as written: no backslashes before its quotes (they
// looked like part of the line on the phone), no \xfc for a Latin-1 byte.
func TestRefusedLineReadsAsWritten(t *testing.T) {
	_, err := ParseProfile([]byte(base(`static-challenge "Enter code" 1 # Schl`+"\xfc"+`ssel`)), "otp.ovpn", nil)
	if err == nil {
		t.Fatal("static-challenge imported")
	}
	if want := `"static-challenge "Enter code" 1 # Schl?ssel" refused`; !strings.Contains(err.Error(), want) {
		t.Errorf("refusal reads %q, want %q in it", err, want)
	}
}
