// Package updatetest makes what tests of update users need: a small boot
// disk with two syslinux slots and signed bundles for it. Only tests
// import it.
package updatetest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/update"
)

// SlotMiB is the size of each slot of a test disk.
const SlotMiB = 4

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// slotImage makes a small syslinux FAT partition holding a "kernel" file.
func slotImage(t testing.TB, dir, name string, kernel []byte) string {
	p := filepath.Join(dir, name)
	run(t, "mkfs.vfat", "-C", "-n", "EDGE_T", p, fmt.Sprint(SlotMiB*1024))
	run(t, "syslinux", "--install", p)
	k := filepath.Join(dir, name+".vmlinuz")
	os.WriteFile(k, kernel, 0o644)
	run(t, "mcopy", "-o", "-i", p, k, "::/vmlinuz")
	return p
}

// Disk is an MBR disk image file: slot A (active) and slot B, each a
// syslinux FAT, like the real image but small.
func Disk(t testing.TB) string {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(int64(1+2*SlotMiB+1) << 20)
	f.Close()
	layout := fmt.Sprintf("label: dos\nunit: sectors\n\nstart=2048, size=%d, type=c, bootable\nstart=%d, size=%d, type=c\n",
		SlotMiB*2048, 2048+SlotMiB*2048, SlotMiB*2048)
	cmd := exec.Command("sfdisk", "--no-reread", "--no-tell-kernel", "-q", disk)
	cmd.Stdin = strings.NewReader(layout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v %s", err, out)
	}
	for i, s := range update.Slots {
		img := slotImage(t, dir, "old"+s, bytes.Repeat([]byte("old kernel "+s), 20000))
		data, _ := os.ReadFile(img)
		f, _ := os.OpenFile(disk, os.O_WRONLY, 0)
		f.WriteAt(data, int64(1+i*SlotMiB)<<20)
		f.Close()
	}
	return disk
}

// Key is a new signing key.
func Key(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Bundle writes a bundle of version for boards, signed by key, and returns
// its path.
func Bundle(t testing.TB, version string, boards []string, key ed25519.PrivateKey) string {
	dir := t.TempDir()
	kernel := make([]byte, 300<<10)
	rand.Read(kernel)
	paths := map[string]string{}
	for _, s := range update.Slots {
		paths[s] = slotImage(t, dir, "new"+s, kernel)
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
