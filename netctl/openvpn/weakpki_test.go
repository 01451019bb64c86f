package openvpn

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oldPKI is an easy-rsa 2 PKI as OpenVPN 2.0-2.3 servers were set up:
// 1024-bit RSA keys (easy-rsa 2's KEY_SIZE) signed with SHA1, made with the
// openssl CLI. Files: ca.crt, server.crt/key, client.crt/key.
func oldPKI(t testing.TB) map[string]string {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("server.ext", "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nnsCertType=server\n")
	write("client.ext", "keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n")
	run("req", "-x509", "-newkey", "rsa:1024", "-sha1", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30", "-subj", "/CN=TG200 CA")
	for _, n := range []string{"server", "client"} {
		run("req", "-newkey", "rsa:1024", "-nodes", "-keyout", n+".key", "-out", n+".csr", "-subj", "/CN="+n)
		run("x509", "-req", "-in", n+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-sha1", "-days", "30",
			"-out", n+".crt", "-extfile", n+".ext")
	}
	out := map[string]string{}
	for _, n := range []string{"ca.crt", "server.crt", "server.key", "client.crt", "client.key"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(b)
	}
	return out
}

// TestWeakOldPKIConnects: a profile from a 2.0-2.3 era server whose PKI
// is 1024-bit RSA signed with SHA1. The old server's OpenSSL took it;
// OpenSSL 3 (openvpn 2.6 on the box) refuses such keys and signatures at
// its default security level. The import must notice, lower the level for
// this profile only, say so, and the tunnel must come up.
func TestWeakOldPKIConnects(t *testing.T) {
	tn := newTestNet(t)
	p := oldPKI(t)
	ta := staticKey(t)
	// The old server, on openvpn 2.6: its OpenSSL 1.0 had no security
	// levels, so the stand-in runs at level 0.
	startOldServer(t, tn, nil, oldSrv{
		files: map[string]string{"ta.key": ta, "ca.crt": p["ca.crt"], "server.crt": p["server.crt"], "server.key": p["server.key"]},
		lines: []string{"proto udp", "tls-auth ta.key 0", "comp-lzo", "tls-cert-profile insecure",
			"data-ciphers AES-128-CBC", "data-ciphers-fallback AES-128-CBC"},
	})
	bundle := makeTar(t, map[string]string{
		"client.conf": strings.Join([]string{"client", "dev tun", "proto udp", "remote " + tn.srvIP + " 1194", "nobind",
			"ca ca.crt", "cert client.crt", "key client.key", "ns-cert-type server", "tls-auth ta.key 1", "comp-lzo",
			"cipher AES-128-CBC", "verb 3"}, "\r\n") + "\r\n",
		"ca.crt": p["ca.crt"], "client.crt": p["client.crt"], "client.key": p["client.key"], "ta.key": ta,
	})
	m := newTestManager(t, tn, Options{})
	info, err := m.ImportWithCredentials(strings.NewReader(string(bundle)), "tg200-weak.tar", Credentials{})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	wantShown(t, info, "tls-cert-profile insecure", "signed with SHA1", "SHA-256")
	runManager(t, m)
	m.SetUplink(true, "wan")
	waitStatus(t, m, 30*time.Second, "CONNECTED with the old PKI", connected)
}
