package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Perm partition states, as the system API reports them.
const (
	permMounted = "mounted"
	permMissing = "missing"
	permDamaged = "damaged"
	permUnknown = "unknown-data"
)

// The boot partitions carry these FAT labels (set by the image builder); the
// perm partition is the third partition of the disk whose first is EDGE_A.
const bootLabelA = "EDGE_A"

// partitionContent is what the first megabyte of a partition holds.
type partitionContent int

const (
	contentBlank   partitionContent = iota // all zero: safe to format
	contentExt4                            // an ext2/3/4 superblock
	contentUnknown                         // data we do not recognise: never format
)

// classify looks at a partition's first megabyte. Only an all-zero start
// counts as blank, so no existing filesystem is ever formatted over.
func classify(r io.ReaderAt) (partitionContent, string, error) {
	buf := make([]byte, 1<<20)
	n, err := r.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return contentUnknown, "", err
	}
	buf = buf[:n]
	if n >= 2048 && binary.LittleEndian.Uint16(buf[1024+0x38:]) == 0xEF53 {
		label := string(bytes.TrimRight(buf[1024+0x78:1024+0x88], "\x00"))
		return contentExt4, label, nil
	}
	if n == 0 {
		return contentUnknown, "", errors.New("partition is empty (zero size)")
	}
	for _, b := range buf {
		if b != 0 {
			return contentUnknown, "", nil
		}
	}
	return contentBlank, "", nil
}

// fatLabel returns the volume label of a FAT12/16/32 boot sector.
func fatLabel(sector []byte) string {
	if len(sector) < 512 || sector[510] != 0x55 || sector[511] != 0xAA {
		return ""
	}
	// FAT32 keeps the extended boot record at 0x40, FAT12/16 at 0x24.
	for _, off := range []int{0x40, 0x24} {
		if sector[off+2] == 0x29 { // extended boot signature
			return strings.TrimSpace(string(sector[off+7 : off+18]))
		}
	}
	return ""
}

// blockDev is a partition the kernel shows in sysfs.
type blockDev struct {
	name      string // sda3
	disk      string // sda
	partition int
}

func listPartitions(sysRoot string) []blockDev {
	var out []blockDev
	disks, _ := os.ReadDir(filepath.Join(sysRoot, "block"))
	for _, d := range disks {
		parts, _ := os.ReadDir(filepath.Join(sysRoot, "block", d.Name()))
		for _, p := range parts {
			b, err := os.ReadFile(filepath.Join(sysRoot, "block", d.Name(), p.Name(), "partition"))
			if err != nil {
				continue
			}
			var n int
			fmt.Sscanf(strings.TrimSpace(string(b)), "%d", &n)
			out = append(out, blockDev{name: p.Name(), disk: d.Name(), partition: n})
		}
	}
	return out
}

func readHead(dev string, n int) []byte {
	f, err := os.Open(dev)
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, n)
	m, _ := io.ReadFull(f, buf)
	return buf[:m]
}

// findPerm returns the device of the perm partition: an ext4 labelled
// "perm", else partition 3 of the edgebox boot disk.
func findPerm(sysRoot, devRoot string) (string, error) {
	parts := listPartitions(sysRoot)
	for _, p := range parts {
		dev := filepath.Join(devRoot, p.name)
		f, err := os.Open(dev)
		if err != nil {
			continue
		}
		kind, label, _ := classify(io.NewSectionReader(f, 0, 4096))
		f.Close()
		if kind == contentExt4 && label == "perm" {
			return dev, nil
		}
	}
	for _, p := range parts {
		if p.partition != 1 || fatLabel(readHead(filepath.Join(devRoot, p.name), 512)) != bootLabelA {
			continue
		}
		for _, q := range parts {
			if q.disk == p.disk && q.partition == 3 {
				return filepath.Join(devRoot, q.name), nil
			}
		}
		return "", fmt.Errorf("boot disk %s has no third partition for /perm", p.disk)
	}
	return "", errors.New("no partition labelled perm and no edgebox boot disk found")
}

// permResult says what became of /perm, for the log and the system API.
type permResult struct {
	state  string
	device string
	note   string
}

// setupPerm finds, checks, formats on first boot (only if blank) and mounts
// the perm partition. When that is impossible, /perm is an empty read-only
// tmpfs so that nothing believes it saved data that a reboot would lose.
func setupPerm(sysRoot, devRoot, override, target string, tools permTools) permResult {
	res := permResult{}
	dev := override
	var err error
	searched := time.Now()
	for dev == "" {
		dev, err = findPerm(sysRoot, devRoot)
		if err == nil || tools.searchOver(searched) {
			break
		}
		if tools.stillLooking != nil && time.Since(searched) > time.Second {
			tools.stillLooking()
			tools.stillLooking = nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if dev == "" {
		res.state, res.note = permMissing, err.Error()
		return readOnlyPerm(target, res)
	}
	res.device = dev
	f, err := os.Open(dev)
	if err != nil {
		res.state, res.note = permMissing, err.Error()
		return readOnlyPerm(target, res)
	}
	kind, _, err := classify(f)
	f.Close()
	if err != nil {
		res.state, res.note = permDamaged, "cannot read "+dev+": "+err.Error()
		return readOnlyPerm(target, res)
	}
	switch kind {
	case contentUnknown:
		res.state = permUnknown
		res.note = dev + " holds data that is not an ext4 filesystem; not formatting it. " +
			"Back it up, then zero its first megabyte to let edgebox create /perm."
		return readOnlyPerm(target, res)
	case contentBlank:
		if out, err := tools.mkfs(dev); err != nil {
			res.state, res.note = permDamaged, fmt.Sprintf("creating the perm filesystem on %s failed: %v: %s", dev, err, out)
			return readOnlyPerm(target, res)
		}
		res.note = "created a new perm filesystem on " + dev + " (first boot)"
	case contentExt4:
		if ext4Clean(readHead(dev, 2048), time.Now()) {
			break // what e2fsck -p would find clean (permclean.go)
		}
		if out, err := tools.fsck(dev); err != nil {
			res.state, res.note = permDamaged, fmt.Sprintf("filesystem check of %s found errors it could not fix: %v: %s", dev, err, out)
			return readOnlyPerm(target, res)
		}
	}
	os.MkdirAll(target, 0o755)
	if err := unix.Mount(dev, target, "ext4", unix.MS_NOATIME|unix.MS_NODEV|unix.MS_NOSUID, "errors=remount-ro"); err != nil {
		res.state, res.note = permDamaged, fmt.Sprintf("mounting %s failed: %v", dev, err)
		return readOnlyPerm(target, res)
	}
	res.state = permMounted
	return res
}

func readOnlyPerm(target string, res permResult) permResult {
	os.MkdirAll(target, 0o755)
	unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755")
	return res
}

// permTools runs the e2fsprogs binaries shipped in the image.
type permTools struct {
	mkfs func(dev string) ([]byte, error)
	fsck func(dev string) ([]byte, error)
	// stillLooking, if set, is called once when the perm device has not
	// shown up after a second: its driver may be in the boot's later
	// module batch (a disk behind USB), which then starts at once.
	stillLooking func()
	// driversIn, if set, is closed once the boot's first module batch (the
	// disk controllers among it) is in. The search for the perm device
	// goes on for permSearchGrace after the later of the search's start
	// and that moment, and never beyond permSearchMax: a fixed 10 s from
	// the start gave up on a loaded machine whose disk driver was still
	// probing (ext4 alone took 16 s to load), and the box ran on defaults
	// without its settings.
	driversIn <-chan struct{}
	// grace and max replace permSearchGrace and permSearchMax in tests.
	grace, max time.Duration
	inAt       time.Time
}

const (
	permSearchGrace = 10 * time.Second
	permSearchMax   = 2 * time.Minute
)

// searchOver says whether setupPerm should stop looking for the perm
// device, searching since start.
func (t *permTools) searchOver(start time.Time) bool {
	grace, most := permSearchGrace, permSearchMax
	if t.grace > 0 {
		grace, most = t.grace, t.max
	}
	now := time.Now()
	if now.Sub(start) > most {
		return true
	}
	from := start
	if t.driversIn != nil {
		select {
		case <-t.driversIn:
			if t.inAt.IsZero() {
				t.inAt = now
			}
			if t.inAt.After(from) {
				from = t.inAt
			}
		default:
			return false // the disk's driver may still be probing
		}
	}
	return now.Sub(from) > grace
}

func e2fsprogs() permTools {
	return permTools{
		mkfs: func(dev string) ([]byte, error) {
			return exec.Command("/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-L", "perm", dev).CombinedOutput()
		},
		fsck: func(dev string) ([]byte, error) {
			out, err := exec.Command("/sbin/e2fsck", "-p", dev).CombinedOutput()
			var ee *exec.ExitError
			// 1: errors fixed; 2: fixed, reboot advised (we have not mounted it yet).
			if errors.As(err, &ee) && ee.ExitCode() <= 2 {
				return out, nil
			}
			return out, err
		},
	}
}

// findBootDisk returns the whole-disk device whose first partition is the
// FAT labelled EDGE_A (the same rule findPerm uses).
func findBootDisk(sysRoot, devRoot string) (string, error) {
	for _, p := range listPartitions(sysRoot) {
		if p.partition == 1 && fatLabel(readHead(filepath.Join(devRoot, p.name), 512)) == bootLabelA {
			return filepath.Join(devRoot, p.disk), nil
		}
	}
	return "", errors.New("no disk whose first partition is labelled " + bootLabelA)
}
