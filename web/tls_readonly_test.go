package web

import (
	"os"
	"path/filepath"
	"testing"
)

// Without a writable /perm the web service must still come up: the
// certificate then lives only in memory.
func TestCertificateWithoutWritablePerm(t *testing.T) {
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o500)
	if os.Getuid() == 0 {
		// root ignores directory modes: use a path under a regular file.
		os.WriteFile(filepath.Join(dir, "file"), nil, 0o600)
		ro = filepath.Join(dir, "file", "secrets")
	}
	c, created, err := LoadOrCreateCertificate(filepath.Join(ro, "c.pem"), filepath.Join(ro, "k.pem"), "edgebox-test")
	if err != nil || !created || c.Fingerprint == "" {
		t.Fatalf("%v %v %+v", err, created, c)
	}
	if _, err := os.Stat(filepath.Join(ro, "c.pem")); err == nil {
		t.Fatal("certificate stored where it cannot be")
	}
}
