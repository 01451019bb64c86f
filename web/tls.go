package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgebox/internal/atomicfile"
	"edgebox/internal/clock"
)

// Certificate is the box's self-signed HTTPS certificate. Installers and
// admins check its fingerprint (printed on the serial console and shown on
// the LAN HTTP page) the first time the browser warns about it.
type Certificate struct {
	TLS         tls.Certificate
	Fingerprint string // SHA-256 of the DER certificate, "AB:CD:..."
	NotAfter    time.Time
}

// LoadOrCreateCertificate loads the certificate and key at certPath and
// keyPath, or makes new ones (mode 0600) when they are missing or unusable.
func LoadOrCreateCertificate(certPath, keyPath, hostname string) (*Certificate, bool, error) {
	if c, err := loadCertificate(certPath, keyPath); err == nil {
		return c, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		// A damaged pair is replaced: the box must stay reachable.
		fmt.Fprintf(os.Stderr, "web: certificate unusable (%v): making a new one\n", err)
	}
	certPEM, keyPEM, err := newSelfSigned(hostname, time.Now())
	if err != nil {
		return nil, false, err
	}
	if err := storeCertificate(certPath, keyPath, certPEM, keyPEM); err != nil {
		// Without /perm (missing or damaged) the box must still be
		// reachable to be repaired: serve a certificate that lives only
		// until the next boot, and say so.
		fmt.Fprintf(os.Stderr, "web: cannot store the HTTPS certificate (%v): using one that lasts until reboot\n", err)
		c, perr := parseCertificate(certPEM, keyPEM)
		return c, true, perr
	}
	c, err := loadCertificate(certPath, keyPath)
	return c, true, err
}

func storeCertificate(certPath, keyPath string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(filepath.Dir(certPath), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("store TLS key: %w", err)
	}
	if err := atomicfile.WriteFile(certPath, certPEM, 0o600); err != nil {
		return fmt.Errorf("store TLS certificate: %w", err)
	}
	return nil
}

func loadCertificate(certPath, keyPath string) (*Certificate, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	return parseCertificate(certPEM, keyPEM)
}

func parseCertificate(certPEM, keyPEM []byte) (*Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, err
	}
	if time.Now().After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate expired on %s", leaf.NotAfter.Format(time.DateOnly))
	}
	pair.Leaf = leaf
	return &Certificate{TLS: pair, Fingerprint: Fingerprint(pair.Certificate[0]), NotAfter: leaf.NotAfter}, nil
}

// Fingerprint formats the SHA-256 of a DER certificate as browsers show it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func newSelfSigned(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	if hostname == "" {
		hostname = "edgebox"
	}
	// The box's clock may be unset on first boot (no RTC battery, no NTP
	// yet) or years ahead: the window holds the right time either way,
	// and lasts long.
	notBefore, notAfter := clock.CertWindow(now)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"edgebox"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{hostname, hostname + ".local", "edgebox", "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
