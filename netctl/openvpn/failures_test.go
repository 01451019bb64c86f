package openvpn

import (
	"archive/tar"
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func strp(s string) *string { return &s }

// TestPassphrase: an encrypted key is answered over the management
// interface; a wrong passphrase is reported as such and not retried, the
// right one connects, and neither ever reaches the log.
func TestPassphrase(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc)
	m, states := newTestManagerLog(t, tn, Options{})
	const right, wrong = "correct horse battery", "Tr0ub4dor&3"
	cert, key := pki.valid(t, "box-enc", false)
	prof := clientProfile(tn, pki, cert, encryptKey(t, key, right), tc)

	// A passphrase given with the upload must be right.
	if _, err := m.ImportWithCredentials(strings.NewReader(prof), "enc.ovpn", Credentials{Passphrase: strp(wrong)}); err == nil || err.Error() != ErrBadPassphrase {
		t.Fatalf("import with wrong passphrase: err = %v, want %q", err, ErrBadPassphrase)
	}
	if _, err := os.Stat(m.store.profilePath()); err == nil {
		t.Fatal("profile stored although its passphrase was refused")
	}
	// Without one the profile is stored and the tunnel waits for it.
	info, err := m.ImportWithCredentials(strings.NewReader(prof), "enc.ovpn", Credentials{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !info.KeyEncrypted {
		t.Error("profile info does not say the key is encrypted")
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 15*time.Second, "NEEDS_PASSPHRASE", func(st Status) bool {
		return st.State == StateNeedsPassphrase && st.LastError == ErrNeedPassphrase
	})

	if err := m.SetCredentials(Credentials{Passphrase: strp(wrong)}); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, m, 15*time.Second, "bad passphrase", func(st Status) bool {
		return st.State == StateNeedsPassphrase && st.LastError == ErrBadPassphrase
	})
	if !st.HasPassphrase {
		t.Error("status does not say a passphrase is stored")
	}
	// A refused passphrase is not offered again and again.
	time.Sleep(1500 * time.Millisecond)
	if n := strings.Count(states.logs.String(), "giving openvpn the stored key passphrase"); n != 1 {
		t.Errorf("wrong passphrase offered %d times, want once", n)
	}

	if err := m.SetCredentials(Credentials{Passphrase: strp(right)}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, 20*time.Second, "CONNECTED with the right passphrase", connected)

	data, err := os.ReadFile(m.store.secretsPath())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), right) {
		t.Error("passphrase not stored")
	}
	if fi, _ := os.Stat(m.store.secretsPath()); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(m.store.profilePath()); fi.Mode().Perm() != 0o600 {
		t.Errorf("profile mode %v, want 0600", fi.Mode().Perm())
	}
	logs := states.logs.String()
	for _, secret := range []string{right, wrong} {
		if strings.Contains(logs, secret) {
			t.Errorf("passphrase %q appears in the log", secret)
		}
	}
	if !strings.Contains(logs, "refused the key passphrase") {
		t.Error("log shows no passphrase dialogue at all; is the test looking at the right log?")
	}
}

// TestExpiredCertificate: a box whose certificate expired is told so.
func TestExpiredCertificate(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc)
	m, states := newTestManagerLog(t, tn, Options{})
	cert, key := pki.issue(t, "box-old", false, time.Now().Add(-72*time.Hour), time.Now().Add(-time.Hour))
	// persist-key: openvpn warns about the expiry once, at start; every
	// later handshake just times out.
	info, err := m.ImportWithCredentials(strings.NewReader(clientProfile(tn, pki, cert, key, tc, "persist-key")), "old.ovpn", Credentials{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if info.CertNotAfter == nil || info.CertNotAfter.After(time.Now()) {
		t.Errorf("profile info cert_not_after = %v, want the past", info.CertNotAfter)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	st := waitStatus(t, m, 20*time.Second, "certificate expired", func(st Status) bool {
		return st.LastError == ErrCertExpired && st.State != StateConnected
	})
	if st.State == StateConnected {
		t.Fatalf("connected with an expired certificate")
	}
	// The server refuses the handshake; the specific cause stays the
	// status' error instead of a generic "handshake failed".
	mark := states.len()
	waitStatus(t, m, 20*time.Second, "a failed handshake", func(Status) bool { return states.seen(mark, StateReconnecting) })
	mark = states.len()
	waitStatus(t, m, 10*time.Second, "the next attempt", func(Status) bool { return states.seen(mark, "AUTH") })
	if st := m.Status(); st.LastError != ErrCertExpired {
		t.Errorf("after the failed handshake: last error %q, want %q", st.LastError, ErrCertExpired)
	}
}

// TestImportTarTLSCryptV2 imports an archive the way older gateways took
// profiles (a .conf naming its files) and connects with tls-crypt-v2.
func TestImportTarTLSCryptV2(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	v2server, v2client := tlsCryptV2Keys(t)
	startServerTLS(t, tn, pki, "tls-crypt-v2", v2server)
	m := newTestManager(t, tn, Options{Interface: "vpn7"})
	cert, key := pki.valid(t, "box-tar", false)
	conf := strings.Join([]string{
		"# exported from an old gateway",
		"client",
		"dev tun",
		"proto udp4",
		"remote " + tn.srvIP + " 1194",
		"nobind",
		"remote-cert-tls server",
		"ca keys/ca.crt",
		"cert keys/box.crt",
		"key /etc/openvpn/keys/box.key", // absolute: found by base name
		"tls-crypt-v2 keys/v2.key",
		"data-ciphers AES-256-GCM",
	}, "\r\n") + "\r\n"
	tarball := makeTar(t, map[string]string{
		"box/box.conf":     conf,
		"box/keys/ca.crt":  pki.CA,
		"box/keys/box.crt": cert,
		"box/keys/box.key": key,
		"box/keys/v2.key":  v2client,
	})
	if err := m.Import(bytes.NewReader(tarball), "box.tar"); err != nil {
		t.Fatalf("tar import: %v", err)
	}
	stored, err := os.ReadFile(m.store.profilePath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<ca>", "<cert>", "<key>", "<tls-crypt-v2>", "-----BEGIN OpenVPN tls-crypt-v2 client key-----"} {
		if !bytes.Contains(stored, []byte(want)) {
			t.Errorf("stored profile lacks %q", want)
		}
	}
	if bytes.Contains(stored, []byte("keys/")) || bytes.Contains(stored, []byte("\r")) {
		t.Errorf("stored profile still names files or has CRs:\n%s", stored)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	st := waitStatus(t, m, 20*time.Second, "CONNECTED via tar profile", connected)
	if st.Profile == nil || st.Profile.Name != "box.conf" {
		t.Errorf("profile name = %+v, want box.conf", st.Profile)
	}
	if st.Interface != "vpn7" {
		t.Errorf("interface = %q, want vpn7", st.Interface)
	}
	mustRun(t, "ip", "-n", tn.cli, "link", "show", "vpn7")
	mustRun(t, "ip", "netns", "exec", tn.cli, "ping", "-c", "1", "-W", "2", tn.tunNet+".1")
}

func makeTar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	return buf.Bytes()
}

// TestImportRejectedKeepsPrevious: profiles that the allow-list or openvpn
// itself refuse are reported, naming the line, and the stored profile stays.
func TestImportRejectedKeepsPrevious(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	m := newTestManager(t, tn, Options{})
	cert, key := pki.valid(t, "box", false)
	good := clientProfile(tn, pki, cert, key, tc)
	if err := m.Import(strings.NewReader(good), "good.ovpn"); err != nil {
		t.Fatalf("import good profile: %v", err)
	}
	before, err := os.ReadFile(m.store.profilePath())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, profile string
		want          []string
	}{
		{"forbidden", clientProfile(tn, pki, cert, key, tc, "plugin /usr/lib/x.so", "up /bin/sh"),
			[]string{"bad.ovpn line 9", `"plugin /usr/lib/x.so"`, "bad.ovpn line 10", "runs a program"}},
		{"openvpn options error", clientProfile(tn, pki, cert, key, tc, "nobind extra-parameter"),
			[]string{"openvpn rejected the profile", "bad.ovpn line 9"}},
		{"openvpn bad protocol", strings.Replace(good, "proto udp4", "proto carrier-pigeon", 1),
			[]string{"openvpn rejected the profile", "carrier-pigeon"}},
		{"unloadable certificate", strings.Replace(good, cert[40:80], strings.Repeat("A", 40), 1),
			[]string{"openvpn rejected the profile"}},
		{"unloadable tls-crypt key", strings.Replace(good, strings.Split(tc, "\n")[3], "zz", 1),
			[]string{"openvpn rejected the profile"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := m.Import(strings.NewReader(c.profile), "bad.ovpn")
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("refused: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			after, _ := os.ReadFile(m.store.profilePath())
			if !bytes.Equal(before, after) {
				t.Error("stored profile changed")
			}
		})
	}
}

// TestLogin: auth-user-pass credentials are answered over the management
// interface; a refused login is reported and not retried until a new one
// is entered.
func TestLogin(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	dir := t.TempDir()
	check := dir + "/check.sh"
	script := "#!/bin/sh\n[ \"$(sed -n 1p \"$1\")\" = alice ] && [ \"$(sed -n 2p \"$1\")\" = right-pw ]\n"
	if err := os.WriteFile(check, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	startServer(t, tn, pki, tc, "script-security 2", "auth-user-pass-verify "+check+" via-file", "tmp-dir "+dir)
	m, states := newTestManagerLog(t, tn, Options{})
	cert, key := pki.valid(t, "box-login", false)
	info, err := m.ImportWithCredentials(strings.NewReader(clientProfile(tn, pki, cert, key, tc, "auth-user-pass")), "login.ovpn",
		Credentials{Username: strp("alice"), Password: strp("wrong-pw")})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !info.NeedsUserPass {
		t.Error("profile info does not say a login is needed")
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 20*time.Second, "login refused", func(st Status) bool {
		return st.State == StateNeedsLogin && st.LastError == ErrBadUserPass
	})
	time.Sleep(1500 * time.Millisecond)
	if n := strings.Count(states.logs.String(), "giving openvpn the stored login"); n != 1 {
		t.Errorf("refused login offered %d times, want once", n)
	}
	if err := m.SetCredentials(Credentials{Password: strp("right-pw")}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, 20*time.Second, "CONNECTED with the right login", connected)
	logs := states.logs.String()
	for _, secret := range []string{"wrong-pw", "right-pw", "alice"} {
		if strings.Contains(logs, secret) {
			t.Errorf("password %q appears in the log", secret)
		}
	}
}

// TestImportHostnameRemote: the dry run accepts a profile whose server is
// a name; inside the empty namespace no lookup can leave the machine.
func TestImportHostnameRemote(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	m := newTestManager(t, tn, Options{})
	cert, key := pki.valid(t, "box", false)
	prof := strings.Replace(clientProfile(tn, pki, cert, key, staticKey(t)), "remote "+tn.srvIP+" 1194", "remote vpn.edgebox.invalid 1194", 1)
	start := time.Now()
	if err := m.Import(strings.NewReader(prof), "named.ovpn"); err != nil {
		t.Fatalf("import: %v (after %s)", err, time.Since(start))
	}
}
