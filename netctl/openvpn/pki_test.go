package openvpn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// testPKI is a throwaway CA with the certificates the tests need.
type testPKI struct {
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	CA     string // PEM
	serial int64
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edgebox test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testPKI{caCert: cert, caKey: key, CA: pemString("CERTIFICATE", der), serial: 1}
}

// issue returns a certificate and unencrypted PKCS#8 key, both PEM.
func (p *testPKI) issue(t testing.TB, cn string, server bool, notBefore, notAfter time.Time) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemString("CERTIFICATE", der), pemString("PRIVATE KEY", kder)
}

// valid issues a certificate valid from an hour ago for a day.
func (p *testPKI) valid(t testing.TB, cn string, server bool) (cert, key string) {
	return p.issue(t, cn, server, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func pemString(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// staticKey returns a random OpenVPN static key (for tls-auth/tls-crypt).
func staticKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 256)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(b)
	var s strings.Builder
	s.WriteString("-----BEGIN OpenVPN Static key V1-----\n")
	for i := 0; i < len(h); i += 32 {
		s.WriteString(h[i:i+32] + "\n")
	}
	s.WriteString("-----END OpenVPN Static key V1-----\n")
	return s.String()
}

// encryptKey encrypts a PEM key with the openssl CLI (AES-256, PKCS#8),
// the way easy-rsa does by default.
func encryptKey(t testing.TB, keyPEM, pass string) string {
	t.Helper()
	cmd := exec.Command("openssl", "pkey", "-aes256", "-passout", "pass:"+pass)
	cmd.Stdin = strings.NewReader(keyPEM)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v", err)
	}
	if !strings.Contains(string(out), "ENCRYPTED PRIVATE KEY") {
		t.Fatalf("openssl did not encrypt the key: %s", out)
	}
	return string(out)
}

// tlsCryptV2Keys makes a tls-crypt-v2 server key and a client key wrapped
// by it, with openvpn's own --genkey.
func tlsCryptV2Keys(t testing.TB) (server, client string) {
	t.Helper()
	dir := t.TempDir()
	sk, ck := dir+"/v2server.key", dir+"/v2client.key"
	if out, err := exec.Command("/usr/sbin/openvpn", "--genkey", "tls-crypt-v2-server", sk).CombinedOutput(); err != nil {
		t.Fatalf("genkey tls-crypt-v2-server: %v\n%s", err, out)
	}
	if out, err := exec.Command("/usr/sbin/openvpn", "--tls-crypt-v2", sk, "--genkey", "tls-crypt-v2-client", ck).CombinedOutput(); err != nil {
		t.Fatalf("genkey tls-crypt-v2-client: %v\n%s", err, out)
	}
	s, err1 := os.ReadFile(sk)
	c, err2 := os.ReadFile(ck)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(s), string(c)
}
