// Package testdisk makes small syslinux boot disks and slot images for
// tests of the updater. It does not import update, so that update's own
// (internal) tests can use it as well as updatetest, which builds signed
// bundles on top of it for tests of update's users. Only tests import it.
package testdisk

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
)

// slotMiB is the size of each slot of a test disk.
const slotMiB = 4

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// SlotImage makes a small syslinux FAT partition dir/name holding kernel
// as its /vmlinuz, and returns its path.
func SlotImage(t testing.TB, dir, name string, kernel []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	run(t, "mkfs.vfat", "-C", "-n", "EDGE_T", p, fmt.Sprint(slotMiB*1024))
	run(t, "syslinux", "--install", p)
	k := filepath.Join(dir, name+".vmlinuz")
	os.WriteFile(k, kernel, 0o644)
	run(t, "mcopy", "-o", "-i", p, k, "::/vmlinuz")
	return p
}

// Disk is an MBR disk image file with one syslinux FAT slot per name in
// slots (update.Slots), the first active, like the real image but small.
// It returns the image's path and the first slot's bytes.
func Disk(t testing.TB, slots []string) (disk string, first []byte) {
	t.Helper()
	dir := t.TempDir()
	disk = filepath.Join(dir, "disk.img")
	f, err := os.Create(disk)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(int64(1+len(slots)*slotMiB+1) << 20)
	f.Close()
	layout := "label: dos\nunit: sectors\n\n"
	for i := range slots {
		layout += fmt.Sprintf("start=%d, size=%d, type=c", 2048+i*slotMiB*2048, slotMiB*2048)
		if i == 0 {
			layout += ", bootable"
		}
		layout += "\n"
	}
	cmd := exec.Command("sfdisk", "--no-reread", "--no-tell-kernel", "-q", disk)
	cmd.Stdin = strings.NewReader(layout)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v %s", err, out)
	}
	for i, s := range slots {
		img := SlotImage(t, dir, "old"+s, bytes.Repeat([]byte("old kernel "+s), 20000))
		data, _ := os.ReadFile(img)
		if i == 0 {
			first = data
		}
		f, _ := os.OpenFile(disk, os.O_WRONLY, 0)
		f.WriteAt(data, int64(1+i*slotMiB)<<20)
		f.Close()
	}
	return disk, first
}

// Key is a new signing key.
func Key(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
