package update

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"edgebox/internal/atomicfile"
)

// TrustedKeysDir is where the image carries the public keys whose bundles
// the box installs (one PEM file per key, *.pub).
const TrustedKeysDir = "/etc/edgebox/update-keys"

// GenerateKey writes a new ed25519 key pair as NAME.key (PKCS#8 PEM, 0600)
// and NAME.pub (PKIX PEM) in dir. It refuses to replace an existing key.
func GenerateKey(dir, name string) (string, error) {
	priv := filepath.Join(dir, name+".key")
	if _, err := os.Stat(priv); err == nil {
		return "", fmt.Errorf("%s exists; not replacing a signing key", priv)
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	pb, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, name+".pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pb}), 0o644); err != nil {
		return "", err
	}
	return keyID(pub), nil
}

// LoadPrivateKey reads a PKCS#8 PEM ed25519 key (as openssl genpkey makes).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an ed25519 key", path)
	}
	return ek, nil
}

// ParsePublicKey decodes one PKIX PEM ed25519 public key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an ed25519 public key")
	}
	return ek, nil
}

// LoadTrustedKeys reads every *.pub in dir; unreadable files are errors
// so a broken key never silently narrows or widens trust.
func LoadTrustedKeys(dir string) ([]ed25519.PublicKey, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var keys []ed25519.PublicKey
	var errs []string
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err == nil {
			var k ed25519.PublicKey
			if k, err = ParsePublicKey(data); err == nil {
				keys = append(keys, k)
				continue
			}
		}
		errs = append(errs, fmt.Sprintf("%s: %v", n, err))
	}
	if len(errs) > 0 {
		return keys, errors.New("trusted update keys: " + strings.Join(errs, "; "))
	}
	return keys, nil
}
