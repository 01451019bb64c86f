package image

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Disk layout, in MiB. The boot slots hold a kernel and an initramfs each
// with room for both to grow; perm is made small in the image and is
// ext4-formatted by init on first boot.
const (
	sectorSize = 512
	alignMiB   = 1
	slotMiB    = 96
	permMiB    = 128
)

// Slot labels the FAT boot partitions; init finds its disk by EDGE_A.
var slotLabels = map[string]string{"A": "EDGE_A", "B": "EDGE_B"}

// syslinuxMBR is the 440-byte MBR boot code that loads the active partition.
const syslinuxMBR = "/usr/lib/syslinux/mbr/mbr.bin"

// Cmdline is the kernel command line of a slot. Serial console first for
// the APU (no VGA); panic=10 reboots a box whose init died.
func Cmdline(slot, extra string) string {
	c := "console=tty0 console=ttyS0,115200n8 panic=10 loglevel=4 edgebox.slot=" + slot
	if extra != "" {
		c += " " + extra
	}
	return c
}

// syslinuxCfg boots the slot's own kernel by default. The label "other"
// chain-loads the other slot's boot sector: a trial boot of an update is a
// syslinux boot-once of "other" in the confirmed slot's ADV, so a trial that
// fails falls back to this slot's default (docs/updates.md).
func syslinuxCfg(slot, cmdline string) string {
	other := map[string]string{"A": "2", "B": "1"}[slot]
	return strings.Join([]string{
		"SERIAL 0 115200",
		"PROMPT 0",
		"TIMEOUT 0",
		"DEFAULT edgebox",
		"LABEL edgebox",
		"  LINUX /vmlinuz",
		"  INITRD /initrd.gz",
		"  APPEND " + cmdline,
		"LABEL other",
		"  COM32 chain.c32",
		"  APPEND boot," + other,
		"",
	}, "\n")
}

// syslinuxModules are the COM32 modules chain.c32 needs (syslinux 6).
var syslinuxModules = []string{"chain.c32", "libcom32.c32", "libutil.c32"}

const syslinuxModuleDir = "/usr/lib/syslinux/modules/bios"

// slotOffset returns the byte offset of boot slot A or B in the image.
func slotOffset(slot string) int64 {
	off := int64(alignMiB)
	if slot == "B" {
		off += slotMiB
	}
	return off << 20
}

// makeSlot writes a FAT boot partition with syslinux, the kernel and the
// initramfs into a file, using only mkfs.vfat, syslinux and mtools.
func makeSlot(ctx context.Context, work, slot, kernel, initrd, extra string, log io.Writer) (string, error) {
	part := filepath.Join(work, "slot"+slot+".img")
	os.Remove(part)
	if err := run(ctx, log, work, "mkfs.vfat", "-C", "-n", slotLabels[slot], part, fmt.Sprint(slotMiB*1024)); err != nil {
		return "", err
	}
	if err := run(ctx, log, work, "syslinux", "--install", part); err != nil {
		return "", err
	}
	if err := setHiddenSectors(part, slotOffset(slot)/sectorSize); err != nil {
		return "", err
	}
	cfg := filepath.Join(work, "syslinux-"+slot+".cfg")
	if err := os.WriteFile(cfg, []byte(syslinuxCfg(slot, Cmdline(slot, extra))), 0o644); err != nil {
		return "", err
	}
	// Fixed order: both slots get the same layout, so an update bundle
	// stores the kernel and initramfs chunks once for both.
	files := [][2]string{{cfg, "syslinux.cfg"}}
	for _, m := range syslinuxModules {
		files = append(files, [2]string{filepath.Join(syslinuxModuleDir, m), m})
	}
	files = append(files, [2]string{kernel, "vmlinuz"}, [2]string{initrd, "initrd.gz"})
	for _, f := range files {
		if err := mcopy(ctx, log, part, f[0], f[1]); err != nil {
			return "", err
		}
	}
	return part, nil
}

// setHiddenSectors records the partition's start in its FAT boot sector,
// as an installer on the real disk would: syslinux's boot sector needs it
// when chain.c32 (not the MBR) starts it.
func setHiddenSectors(part string, start int64) error {
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(start))
	if _, err := f.WriteAt(b[:], 0x1C); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// mcopy writes file src as name into the FAT filesystem in image (which may
// be a whole disk: "img@@offset").
func mcopy(ctx context.Context, log io.Writer, image, src, name string) error {
	return run(ctx, log, "", "env", "MTOOLS_SKIP_CHECK=1", "mcopy", "-o", "-i", image, src, "::/"+name)
}

// writeAt copies the file src into dst at byte offset off.
func writeAt(dst string, off int64, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := out.Seek(off, io.SeekStart); err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// MakeDisk assembles the disk image: MBR with syslinux boot code, slot A
// (active) and slot B with the same firmware, and a blank perm partition.
func MakeDisk(ctx context.Context, work, kernel, initrd, dst string, log io.Writer) error {
	total := int64(alignMiB+2*slotMiB+permMiB+1) << 20
	tmp := dst + ".tmp"
	os.Remove(tmp)
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := f.Truncate(total); err != nil { // sparse: perm starts all zero
		f.Close()
		return err
	}
	f.Close()
	mib := int64(1 << 20 / sectorSize)
	layout := fmt.Sprintf("label: dos\nunit: sectors\n\n"+
		"start=%d, size=%d, type=c, bootable\n"+
		"start=%d, size=%d, type=c\n"+
		"start=%d, size=%d, type=83\n",
		alignMiB*mib, slotMiB*mib,
		(alignMiB+slotMiB)*mib, slotMiB*mib,
		(alignMiB+2*slotMiB)*mib, permMiB*mib)
	sf := filepath.Join(work, "layout.sfdisk")
	if err := os.WriteFile(sf, []byte(layout), 0o644); err != nil {
		return err
	}
	if err := run(ctx, log, "", "sh", "-c", "sfdisk --no-reread --no-tell-kernel -q "+tmp+" < "+sf); err != nil {
		return err
	}
	for _, slot := range []string{"A", "B"} {
		part, err := makeSlot(ctx, work, slot, kernel, initrd, "", log)
		if err != nil {
			return err
		}
		if err := writeAt(tmp, slotOffset(slot), part); err != nil {
			return err
		}
		os.Remove(part)
	}
	if err := run(ctx, log, "", "dd", "if="+syslinuxMBR, "of="+tmp, "bs=440", "count=1", "conv=notrunc", "status=none"); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// SetCmdline rewrites the kernel command line of one slot of a disk image in
// place (for tests and for installers who need a flag such as edgebox.board=).
func SetCmdline(ctx context.Context, disk, slot, extra string) error {
	cfg, err := os.CreateTemp("", "syslinux-*.cfg")
	if err != nil {
		return err
	}
	defer os.Remove(cfg.Name())
	cfg.WriteString(syslinuxCfg(slot, Cmdline(slot, extra)))
	cfg.Close()
	return mcopy(ctx, io.Discard, fmt.Sprintf("%s@@%d", disk, slotOffset(slot)), cfg.Name(), "syslinux.cfg")
}
