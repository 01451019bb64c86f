package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// permTarget is a mount point that is unmounted again after the test.
func permTarget(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "perm")
	t.Cleanup(func() { unix.Unmount(p, unix.MNT_DETACH) })
	return p
}

func makeFile(t *testing.T, size int64) string {
	p := filepath.Join(t.TempDir(), "part.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	return p
}

func classifyFile(t *testing.T, p string) (partitionContent, string) {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	k, l, err := classify(f)
	if err != nil {
		t.Fatal(err)
	}
	return k, l
}

func TestClassifyBlankExt4AndForeign(t *testing.T) {
	blank := makeFile(t, 8<<20)
	if k, _ := classifyFile(t, blank); k != contentBlank {
		t.Fatalf("blank partition: %v", k)
	}
	ext := makeFile(t, 8<<20)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "perm", ext).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v %s", err, out)
	}
	if k, l := classifyFile(t, ext); k != contentExt4 || l != "perm" {
		t.Fatalf("ext4: %v %q", k, l)
	}
	// Some other data (an old FAT, a random start): never blank.
	foreign := makeFile(t, 8<<20)
	f, _ := os.OpenFile(foreign, os.O_WRONLY, 0)
	junk := make([]byte, 16)
	rand.Read(junk)
	f.WriteAt(junk, 700<<10) // deep inside the first megabyte
	f.Close()
	if k, _ := classifyFile(t, foreign); k != contentUnknown {
		t.Fatalf("foreign data classified %v", k)
	}
}

func TestFATLabel(t *testing.T) {
	p := makeFile(t, 0)
	os.Remove(p)
	if out, err := exec.Command("mkfs.vfat", "-C", "-n", "EDGE_A", p, "32768").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.vfat: %v %s", err, out)
	}
	b, _ := os.ReadFile(p)
	if got := fatLabel(b[:512]); got != "EDGE_A" {
		t.Fatalf("label %q", got)
	}
	if fatLabel(bytes.Repeat([]byte{0}, 512)) != "" {
		t.Fatal("label from zeros")
	}
}

// fakeBlock lays out a sysfs block tree and device files for a disk with
// three partitions, the first a FAT labelled like an edgebox boot slot.
func fakeBlock(t *testing.T, permContent func(path string)) (sysRoot, devRoot string) {
	sysRoot, devRoot = t.TempDir(), t.TempDir()
	for i, name := range []string{"sda1", "sda2", "sda3"} {
		dir := filepath.Join(sysRoot, "block/sda", name)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "partition"), []byte{byte('1' + i), '\n'}, 0o644)
	}
	a := filepath.Join(devRoot, "sda1")
	if out, err := exec.Command("mkfs.vfat", "-C", "-n", "EDGE_A", a, "32768").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.WriteFile(filepath.Join(devRoot, "sda2"), make([]byte, 4096), 0o644)
	perm := filepath.Join(devRoot, "sda3")
	os.WriteFile(perm, nil, 0o644)
	os.Truncate(perm, 8<<20)
	if permContent != nil {
		permContent(perm)
	}
	return sysRoot, devRoot
}

func TestFindPermOnBlankBootDisk(t *testing.T) {
	sys, dev := fakeBlock(t, nil)
	got, err := findPerm(sys, dev)
	if err != nil || got != filepath.Join(dev, "sda3") {
		t.Fatalf("%q %v", got, err)
	}
}

func TestFindPermByLabel(t *testing.T) {
	sys, dev := fakeBlock(t, nil)
	// A perm filesystem on another disk (moved there by an installer) wins.
	os.MkdirAll(filepath.Join(sys, "block/sdb/sdb1"), 0o755)
	os.WriteFile(filepath.Join(sys, "block/sdb/sdb1/partition"), []byte("1\n"), 0o644)
	p := filepath.Join(dev, "sdb1")
	os.WriteFile(p, nil, 0o644)
	os.Truncate(p, 8<<20)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "perm", p).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	got, err := findPerm(sys, dev)
	if err != nil || got != p {
		t.Fatalf("%q %v", got, err)
	}
}

func TestFindPermNothing(t *testing.T) {
	if _, err := findPerm(t.TempDir(), t.TempDir()); err == nil {
		t.Fatal("found perm on an empty machine")
	}
}

// setupPerm's decisions, with the mount replaced by what the formatter saw.
func TestSetupPermNeverFormatsData(t *testing.T) {
	sys, dev := fakeBlock(t, func(p string) {
		f, _ := os.OpenFile(p, os.O_WRONLY, 0)
		f.WriteAt([]byte("precious customer data"), 4096)
		f.Close()
	})
	formatted := false
	tools := permTools{
		mkfs: func(string) ([]byte, error) { formatted = true; return nil, nil },
		fsck: func(string) ([]byte, error) { return nil, nil },
	}
	res := setupPerm(sys, dev, "", permTarget(t), tools)
	if formatted || res.state != permUnknown {
		t.Fatalf("formatted=%v result %+v", formatted, res)
	}
	b, _ := os.ReadFile(filepath.Join(dev, "sda3"))
	if !bytes.Contains(b, []byte("precious customer data")) {
		t.Fatal("data touched")
	}
}

func TestSetupPermFormatsBlankOnly(t *testing.T) {
	sys, dev := fakeBlock(t, nil)
	var formatted string
	tools := permTools{
		mkfs: func(d string) ([]byte, error) {
			formatted = d
			return exec.Command("mkfs.ext4", "-q", "-F", "-L", "perm", d).CombinedOutput()
		},
		fsck: func(string) ([]byte, error) { return nil, nil },
	}
	res := setupPerm(sys, dev, "", permTarget(t), tools)
	if formatted != filepath.Join(dev, "sda3") {
		t.Fatalf("formatted %q; result %+v", formatted, res)
	}
	// The mount itself needs a block device; a regular file is refused,
	// which must be reported as damaged rather than crash the boot.
	if os.Getuid() == 0 && res.state != permDamaged && res.state != permMounted {
		t.Fatalf("result %+v", res)
	}
	// Second boot: now ext4 and clean, so neither checked nor formatted.
	formatted = ""
	checked := false
	tools.fsck = func(string) ([]byte, error) { checked = true; return nil, nil }
	setupPerm(sys, dev, "", permTarget(t), tools)
	if formatted != "" || checked {
		t.Fatalf("second boot formatted=%q checked=%v", formatted, checked)
	}
	// After a power cut the journal needs replaying: checked, not formatted.
	f, err := os.OpenFile(filepath.Join(dev, "sda3"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	sb := make([]byte, 4)
	f.ReadAt(sb, 1024+0x60)
	sb[0] |= 0x4 // EXT4_FEATURE_INCOMPAT_RECOVER
	f.WriteAt(sb, 1024+0x60)
	f.Close()
	setupPerm(sys, dev, "", permTarget(t), tools)
	if formatted != "" || !checked {
		t.Fatalf("boot after a power cut formatted=%q checked=%v", formatted, checked)
	}
}

// TestPermFoundWhileDiskDriverStillProbing: the perm partition that shows
// up after the search's grace from its start, but while the boot's disk
// drivers were still loading, is found and used (a loaded machine's boot
// gave up after a fixed 10 s and ran without its settings); with no
// drivers' end in sight the search still ends, at its bound.
func TestPermFoundWhileDiskDriverStillProbing(t *testing.T) {
	sys, dev := fakeBlock(t, nil)
	part := filepath.Join(sys, "block/sda/sda3")
	os.RemoveAll(part)
	driversIn := make(chan struct{})
	var mkfsOn string
	tools := permTools{
		mkfs:      func(d string) ([]byte, error) { mkfsOn = d; return nil, nil },
		fsck:      func(string) ([]byte, error) { return nil, nil },
		driversIn: driversIn,
		grace:     300 * time.Millisecond,
		max:       20 * time.Second,
	}
	time.AfterFunc(600*time.Millisecond, func() { close(driversIn) })
	time.AfterFunc(800*time.Millisecond, func() {
		os.MkdirAll(part, 0o755)
		os.WriteFile(filepath.Join(part, "partition"), []byte("3\n"), 0o644)
	})
	res := setupPerm(sys, dev, "", permTarget(t), tools)
	if res.device != filepath.Join(dev, "sda3") || mkfsOn != res.device {
		t.Fatalf("perm partition that appeared as the drivers finished not used: %+v (formatted %q)", res, mkfsOn)
	}

	sys, dev = fakeBlock(t, nil)
	os.RemoveAll(filepath.Join(sys, "block/sda/sda3"))
	tools.driversIn = make(chan struct{}) // never in
	tools.max = 500 * time.Millisecond
	start := time.Now()
	if res := setupPerm(sys, dev, "", permTarget(t), tools); res.state != permMissing {
		t.Fatalf("no perm partition: %+v", res)
	}
	if waited := time.Since(start); waited > 15*time.Second {
		t.Fatalf("the search did not end at its bound: %v", waited)
	}
}
