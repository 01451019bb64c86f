package openvpn

import (
	"archive/zip"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// Profiles as they come from the field (issue 22), each against a real
// openvpn 2.6 server in a namespace.

// countStates counts how often the manager entered state.
func (l *stateLog) count(state string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.states {
		if s == state {
			n++
		}
	}
	return n
}

// infoJSON is the profile info as the API shows it, quotes unescaped.
func infoJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), `\"`, `"`)
}

// wantShown checks that the import result, as the API shows it, says each
// of want.
func wantShown(t testing.TB, info ProfileInfo, want ...string) {
	t.Helper()
	shown := infoJSON(t, info)
	for _, w := range want {
		if !strings.Contains(shown, w) {
			t.Errorf("import result lacks %q: %s", w, shown)
		}
	}
}

// TestRetryHonoursBackoff: against a TCP server that refuses connections
// openvpn wants to wait between attempts (connect-retry 2, doubling); the
// manager used to release every hold at once (5,616 attempts in 10 s).
// The repeated "Connection refused" line is logged once with a count.
func TestRetryHonoursBackoff(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	// Nothing listens on the server's TCP port: every connect is refused.
	m, states := newTestManagerLog(t, tn, Options{ExtraArgs: []string{"--connect-retry", "2", "8"}})
	cert, key := pki.valid(t, "box-storm", false)
	prof := strings.Replace(clientProfile(tn, pki, cert, key, staticKey(t)), "proto udp4", "proto tcp-client", 1)
	if err := m.Import(strings.NewReader(prof), "refused.ovpn"); err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 20*time.Second, "connection refused", func(st Status) bool { return st.LastError == ErrRefused })
	start := time.Now()
	sawWait := false
	for time.Since(start) < 10*time.Second { // the window attempts are counted in
		if strings.Contains(m.Status().Detail, "next attempt in") {
			sawWait = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sawWait {
		t.Error("the status never said when the next attempt comes")
	}
	attempts := states.count("TCP_CONNECT")
	t.Logf("%d connection attempts in %s", attempts, time.Since(start).Round(time.Second))
	// openvpn's schedule allows at most one attempt every 2 s.
	if attempts > 10 {
		t.Errorf("%d attempts in about 10 s: openvpn's back-off is not honoured", attempts)
	}
	logged := strings.Count(states.logs.String(), "Connection refused")
	if logged > 3 {
		t.Errorf("\"Connection refused\" logged %d times: repeated lines are not collapsed", logged)
	}
}

// TestRetryHonoursBackoffTLS: a server that completes the handshake and
// then refuses the box (here: no shared data cipher, AUTH_FAILED) saw
// 1,700 full TLS handshakes in 17 s; openvpn's own pause between attempts
// must hold here too.
func TestRetryHonoursBackoffTLS(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	srv := startServer(t, tn, pki, tc, "data-ciphers AES-128-GCM")
	m := newTestManager(t, tn, Options{ExtraArgs: []string{"--connect-retry", "2", "8"}})
	cert, key := pki.valid(t, "box-refused", false)
	prof := strings.Replace(clientProfile(tn, pki, cert, key, tc), "data-ciphers AES-256-GCM:CHACHA20-POLY1305", "data-ciphers AES-256-GCM", 1)
	if err := m.Import(strings.NewReader(prof), "refused.ovpn"); err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	// One per full handshake the server made and then refused.
	const handshake = "SENT CONTROL [box-refused]: 'AUTH_FAILED"
	testenv.WaitFor(t, 20*time.Second, "the server refused the box", func() (bool, error) {
		return srv.out.Contains(handshake), fmt.Errorf("server output:\n%s", testenv.Tail(srv.out.String(), 3000))
	})
	before := strings.Count(srv.out.String(), handshake)
	time.Sleep(10 * time.Second) // the window handshakes are counted in
	n := strings.Count(srv.out.String(), handshake) - before
	t.Logf("%d handshakes in 10 s", n)
	if n > 10 {
		t.Errorf("%d handshakes in about 10 s: openvpn's pause between attempts is not honoured", n)
	}
}

// TestAuthFailedSaysWhy: a server that shares no data cipher with the box
// refuses it with AUTH_FAILED and a reason. The profile has no login, so
// the status must give that reason and what to do, never "wrong password".
func TestAuthFailedSaysWhy(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc, "data-ciphers AES-128-GCM")
	m := newTestManager(t, tn, Options{})
	cert, key := pki.valid(t, "box-cipher", false)
	prof := strings.Replace(clientProfile(tn, pki, cert, key, tc), "data-ciphers AES-256-GCM:CHACHA20-POLY1305", "data-ciphers AES-256-GCM", 1)
	if err := m.Import(strings.NewReader(prof), "nocipher.ovpn"); err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	st := waitStatus(t, m, 30*time.Second, "refused by the server", func(st Status) bool {
		return st.LastError != "" && st.LastError != ErrUnreachable && st.LastError != ErrTLSFailed
	})
	t.Logf("last error: %s", st.LastError)
	for _, want := range []string{"cipher", "data-ciphers"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("last error %q lacks %q", st.LastError, want)
		}
	}
	if strings.Contains(st.LastError, "login") || strings.Contains(st.LastError, "password") || st.State == StateNeedsLogin {
		t.Errorf("a profile without login blamed on the login: %s (%s)", st.LastError, st.State)
	}
}

// TestExplainAuthFailed words AUTH_FAILED by what is known.
func TestExplainAuthFailed(t *testing.T) {
	dep := []string{"DEPRECATED OPTION: --cipher set to 'AES-128-CBC' but missing in --data-ciphers (AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305). OpenVPN ignores --cipher for cipher negotiations. "}
	cases := []struct {
		reason     string
		login      bool
		dep        []string
		want, not  string
		wantExactl string
	}{
		{"", true, nil, "", "", ErrBadUserPass},
		{"", false, nil, "no reason given", "password", ""},
		{"Data channel cipher negotiation failed (no shared cipher)", false, dep, "no shared cipher", "password", ""},
		{"Data channel cipher negotiation failed (no shared cipher)", true, dep, "AES-128-CBC' but missing in --data-ciphers", "password", ""},
		{"account locked", true, nil, "account locked", "", ""},
	}
	for _, c := range cases {
		got := explainAuthFailed(c.reason, c.login, c.dep)
		if c.wantExactl != "" && got != c.wantExactl {
			t.Errorf("%q login=%v: %q, want %q", c.reason, c.login, got, c.wantExactl)
		}
		if c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%q login=%v: %q lacks %q", c.reason, c.login, got, c.want)
		}
		if c.not != "" && strings.Contains(got, c.not) {
			t.Errorf("%q login=%v: %q says %q", c.reason, c.login, got, c.not)
		}
	}
}

// issueNS issues a server certificate the way easy-rsa 1/2 did for
// OpenVPN 2.0: with the Netscape cert type "SSL server", which
// "ns-cert-type server" checks.
func (p *testPKI) issueNS(t testing.TB, cn string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	nsType, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x40}, BitLength: 2})
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		ExtraExtensions: []pkix.Extension{{
			Id: asn1.ObjectIdentifier{2, 16, 840, 1, 113730, 1, 1}, Value: nsType,
		}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	return pemString("CERTIFICATE", der), pemString("PRIVATE KEY", kder)
}

// oldServer is the TG200 set-up's server as OpenVPN 2.0 ran it, on 2.6:
// tls-auth (direction 0), comp-lzo, one CBC cipher and nothing to
// negotiate with, a certificate with the Netscape server type.
func oldServer(t testing.TB, tn *testNet, pki *testPKI, ta, cipher string) *testServer {
	t.Helper()
	cert, key := pki.issueNS(t, "server")
	extra := []string{"key-direction 0", "comp-lzo", "data-ciphers " + cipher, "data-ciphers-fallback " + cipher}
	if legacyCiphers[cipher] {
		extra = append(extra, "providers legacy default")
	}
	s := startServerTLS(t, tn, pki, "tls-auth", ta, extra...)
	// startServerTLS made its own certificate; the old one carries the
	// Netscape type.
	for name, data := range map[string]string{"server.crt": cert, "server.key": key} {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.kill()
	s.start()
	return s
}

// tg200Bundle is the seed's 2.0-era bundle: a tar of a CRLF client.conf
// with its four files beside it.
func tg200Bundle(t testing.TB, tn *testNet, pki *testPKI, ta, cipherLine string) []byte {
	t.Helper()
	cert, key := pki.valid(t, "tg200-0042", false)
	lines := []string{
		"# TG200 VPN client, OpenVPN 2.0",
		"client", "dev tun", "proto udp",
		"remote " + tn.srvIP + " 1194",
		"resolv-retry infinite", "nobind",
		"user nobody", "group nogroup",
		"persist-key", "persist-tun",
		"ca ca.crt", "cert client.crt", "key client.key",
		"ns-cert-type server",
		"tls-auth ta.key 1",
		"comp-lzo", "verb 3",
	}
	if cipherLine != "" {
		lines = append(lines, cipherLine)
	}
	return makeTar(t, map[string]string{
		"client.conf": strings.Join(lines, "\r\n") + "\r\n",
		"ca.crt":      pki.CA, "client.crt": cert, "client.key": key, "ta.key": ta,
	})
}

// TestLegacyTG200Bundles: the 2.0-era bundles connect after import, each
// conversion shown to the installer.
func TestLegacyTG200Bundles(t *testing.T) {
	for _, c := range []struct {
		name, cipherLine, serverCipher string
		notes                          []string
	}{
		{"cipher AES-128-CBC", "cipher AES-128-CBC", "AES-128-CBC",
			[]string{"converted for openvpn 2.6", "data-ciphers-fallback AES-128-CBC", `"user nobody" dropped`, `"group nogroup" dropped`}},
		{"no cipher means BF-CBC", "", "BF-CBC",
			[]string{"converted for openvpn 2.6", "BF-CBC", "providers legacy default", `"user nobody" dropped`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tn := newTestNet(t)
			pki := newTestPKI(t)
			ta := staticKey(t)
			oldServer(t, tn, pki, ta, c.serverCipher)
			m := newTestManager(t, tn, Options{})
			info, err := m.ImportWithCredentials(bytes.NewReader(tg200Bundle(t, tn, pki, ta, c.cipherLine)), "tg200-0042.tar", Credentials{})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			wantShown(t, info, c.notes...)
			runManager(t, m)
			m.SetUplink(true, "wan")
			waitStatus(t, m, 30*time.Second, "CONNECTED to the old server", connected)
			mustRun(t, "ip", "netns", "exec", tn.cli, "ping", "-c", "1", "-W", "3", tn.tunNet+".1")
		})
	}
}

// windowsZip is the OpenVPN GUI's config folder zipped on Windows: a
// client.ovpn with a BOM and CRLF naming its files by absolute Windows
// paths, Windows-only and obsolete lines, and login.conf beside it.
func windowsZip(t testing.TB, tn *testNet, pki *testPKI, tc string) []byte {
	t.Helper()
	cert, key := pki.valid(t, "box-win", false)
	dir := `C:\\Program Files\\OpenVPN\\config\\office\\`
	conf := "\xef\xbb\xbf" + strings.Join([]string{
		"client", "dev tun", "proto udp4",
		"remote " + tn.srvIP + " 1194",
		"nobind", "remote-cert-tls server",
		`ca "` + dir + `ca.crt"`,
		`cert "` + dir + `office.crt"`,
		`key C:\Users\installer\office.key`, // unquoted: openvpn reads the backslashes as escapes
		`tls-crypt "` + dir + `tc.key"`,
		"data-ciphers AES-256-GCM:CHACHA20-POLY1305",
		"auth-user-pass login.conf",
		"route-method exe", "route-delay 2", "ip-win32 dynamic", "dhcp-release",
		"block-outside-dns", "register-dns",
		"keysize 256", "max-routes 200",
		"verb 3",
	}, "\r\n") + "\r\n"
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range map[string]string{
		"office/office.ovpn": conf, "office/login.conf": "alice\r\nright-pw\r\n",
		"office/ca.crt": pki.CA, "office/office.crt": cert, "office/office.key": key, "office/tc.key": tc,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	zw.Close()
	return buf.Bytes()
}

// loginServer starts a server that accepts alice / right-pw only.
func loginServer(t testing.TB, tn *testNet, pki *testPKI, tc string, extra ...string) *testServer {
	t.Helper()
	return startServer(t, tn, pki, tc, loginLines(t, extra...)...)
}

// TestWindowsFolderZip: Windows-only and obsolete lines are dropped with a
// note saying which and why, files named C:\...\ca.crt are found by base
// name, and login.conf is the login, not a second config.
func TestWindowsFolderZip(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	loginServer(t, tn, pki, tc)
	m := newTestManager(t, tn, Options{})
	info, err := m.ImportWithCredentials(bytes.NewReader(windowsZip(t, tn, pki, tc)), "office.zip", Credentials{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	shown := infoJSON(t, info)
	for _, d := range []string{"route-method exe", "ip-win32 dynamic", "dhcp-release", "block-outside-dns", "register-dns"} {
		if !strings.Contains(shown, fmt.Sprintf(`"%s" dropped: it applies to Windows only`, d)) {
			t.Errorf("no note that %q was dropped as Windows-only: %s", d, shown)
		}
	}
	for _, d := range []string{"keysize 256", "max-routes 200"} {
		if !strings.Contains(shown, fmt.Sprintf(`"%s" dropped: it is obsolete`, d)) {
			t.Errorf("no note that %q is obsolete: %s", d, shown)
		}
	}
	if !info.NeedsUserPass {
		t.Error("login.conf not taken as the login")
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 30*time.Second, "CONNECTED with the Windows folder's login", connected)
}

// silentProxy accepts connections inside ns and never answers a byte, as
// a proxy that swallows CONNECT does. It counts the connections.
type silentProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startSilentProxy(t testing.TB, tn *testNet) *silentProxy {
	t.Helper()
	p := &silentProxy{}
	if err := testenv.DoIn(tn.srv, func() (err error) { p.ln, err = net.Listen("tcp", tn.srvIP+":3128"); return }); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *silentProxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// TestProxyNeverAnswers: openvpn waits on a proxy that took the connection
// but never answers CONNECT, deaf to the management interface. The status
// says it waits for the proxy, a reconnect gets it out, and the wait ends
// with an error in words.
func TestProxyNeverAnswers(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc, "proto tcp-server")
	proxy := startSilentProxy(t, tn)
	m := newTestManager(t, tn, Options{})
	cert, key := pki.valid(t, "box-proxy", false)
	prof := strings.Replace(clientProfile(tn, pki, cert, key, tc, fmt.Sprintf("http-proxy %s 3128", tn.srvIP)), "proto udp4", "proto tcp-client", 1)
	if err := m.Import(strings.NewReader(prof), "proxy.ovpn"); err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	st := waitStatus(t, m, 30*time.Second, "waiting for the proxy", func(st Status) bool {
		return strings.Contains(st.Detail, "waiting for the HTTP proxy to answer CONNECT "+tn.srvIP+":1194")
	})
	t.Logf("status: %s %s", st.State, st.Detail)
	before := proxy.accepted()
	m.Reconnect()
	testenv.WaitFor(t, 40*time.Second, "openvpn trying again after reconnect", func() (bool, error) {
		return proxy.accepted() > before, fmt.Errorf("proxy connections: %d; status %+v", proxy.accepted(), m.Status())
	})
	st = waitStatus(t, m, 90*time.Second, "proxy timeout in words", func(st Status) bool {
		return strings.Contains(st.LastError, ErrProxySilent)
	})
	t.Logf("last error: %s", st.LastError)
	if !strings.Contains(st.LastError, tn.srvIP+":1194") {
		t.Errorf("last error does not say what was asked of the proxy: %s", st.LastError)
	}
}

// TestRefusedProfileShowsOnlyTheError: openvpn's "Note: --cipher is not
// set ... BF-CBC" must not stand in front of the real error (here no CA,
// which openvpn finds after printing that Note).
func TestRefusedProfileShowsOnlyTheError(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	m := newTestManager(t, tn, Options{})
	cert, key := pki.valid(t, "box", false)
	prof := strings.Replace(clientProfile(tn, pki, cert, key, staticKey(t)), "data-ciphers AES-256-GCM:CHACHA20-POLY1305\n", "", 1)
	ca := "<ca>\n" + strings.TrimSpace(pki.CA) + "\n</ca>\n"
	if !strings.Contains(prof, ca) {
		t.Fatal("test profile has no <ca> block to leave out")
	}
	prof = strings.Replace(prof, ca, "", 1)
	err := m.Import(strings.NewReader(prof), "bad.ovpn")
	if err == nil {
		t.Fatal("accepted")
	}
	t.Logf("refused: %v", err)
	if strings.Contains(err.Error(), "Note:") || strings.Contains(err.Error(), "BF-CBC") {
		t.Errorf("openvpn's Note stands in the error: %v", err)
	}
	if !strings.Contains(err.Error(), "--ca") {
		t.Errorf("the real error is missing: %v", err)
	}
}

// TestConvertedProfileReadsBack: a converted profile, stored with its
// notes in the header, reads back unchanged and is not converted twice.
func TestConvertedProfileReadsBack(t *testing.T) {
	tn := &testNet{srvIP: "192.0.2.1"}
	pki := newTestPKI(t)
	p, err := ParseUpload(tg200Bundle(t, tn, pki, staticKey(t), ""), "tg200.tar")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Info.Notes) < 3 {
		t.Fatalf("notes: %q", p.Info.Notes)
	}
	p.Info.Notes = append(p.Info.Notes, "a long one: "+strings.Repeat("ünïcödé ", 60))
	stored := p.withHeader()
	for i, line := range strings.Split(string(stored), "\n") {
		if len(line) > maxLineLen {
			t.Errorf("stored line %d has %d bytes; openvpn refuses more than 256", i+1, len(line))
		}
	}
	again, err := ParseProfile(stored, "profile.ovpn", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Text) != string(p.Text) {
		t.Errorf("converted again:\n%s\nwas:\n%s", again.Text, p.Text)
	}
	if strings.Join(again.Info.Notes, "\n") != strings.Join(p.Info.Notes, "\n") {
		t.Errorf("notes read back as\n%q\nwant\n%q", again.Info.Notes, p.Info.Notes)
	}
	if n := strings.Count(string(p.Text), "providers legacy default"); n != 1 {
		t.Errorf("providers line %d times", n)
	}
}
