// Package updatetest makes what tests of update users need: a small boot
// disk with two syslinux slots and signed bundles for it. Only tests
// import it. The disk and slot images come from testdisk, which update's
// own tests use too.
package updatetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edgebox/internal/update"
	"edgebox/internal/update/testdisk"
)

// Disk is an MBR disk image file: slot A (active) and slot B, each a
// syslinux FAT, like the real image but small.
func Disk(t testing.TB) string {
	disk, _ := testdisk.Disk(t, update.Slots)
	return disk
}

// Key is a new signing key.
func Key(t testing.TB) ed25519.PrivateKey { return testdisk.Key(t) }

// Bundle writes a bundle of version for boards, signed by key, and returns
// its path.
func Bundle(t testing.TB, version string, boards []string, key ed25519.PrivateKey) string {
	dir := t.TempDir()
	kernel := make([]byte, 300<<10)
	rand.Read(kernel)
	paths := map[string]string{}
	for _, s := range update.Slots {
		paths[s] = testdisk.SlotImage(t, dir, "new"+s, kernel)
	}
	path := filepath.Join(dir, "edgebox.bundle")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := update.BuildBundle(f, update.Manifest{Version: version, Boards: boards, Created: time.Now().UTC()}, paths, []ed25519.PrivateKey{key}); err != nil {
		t.Fatal(err)
	}
	return path
}
