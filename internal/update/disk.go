package update

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The boot disk: an MBR whose partitions 1 and 2 are boot slots A and B
// (FAT with syslinux) and whose "active" flag says which slot is confirmed.
// syslinux's mbr.bin boots the active partition. Everything here works on
// the whole-disk device (/dev/sda on the box) or on an image file (tests,
// installers), so one code path is tested without root.

// Slots are the boot slot names, in partition order.
var Slots = []string{"A", "B"}

// otherSlot returns the slot that is not s.
func otherSlot(s string) string {
	if s == "A" {
		return "B"
	}
	return "A"
}

// partition is one primary MBR partition entry.
type partition struct {
	Active      bool
	Type        byte
	Start, Size int64 // bytes
}

const (
	sectorSize  = 512
	mbrTable    = 0x1BE
	mbrActive   = 0x80
	maxSlotSize = 1 << 30
)

func slotIndex(slot string) (int, error) {
	switch slot {
	case "A":
		return 0, nil
	case "B":
		return 1, nil
	}
	return 0, fmt.Errorf("slot %q: must be A or B", slot)
}

// parseMBR decodes the four primary partition entries of sector 0.
func parseMBR(s []byte) ([4]partition, error) {
	var p [4]partition
	if len(s) < sectorSize || s[510] != 0x55 || s[511] != 0xAA {
		return p, errors.New("no MBR (missing 55AA signature)")
	}
	for i := range p {
		e := s[mbrTable+16*i:]
		p[i] = partition{Active: e[0] == mbrActive, Type: e[4],
			Start: int64(binary.LittleEndian.Uint32(e[8:])) * sectorSize,
			Size:  int64(binary.LittleEndian.Uint32(e[12:])) * sectorSize}
	}
	return p, nil
}

// Disk is an edgebox boot disk opened for reading and writing.
type Disk struct {
	f     *os.File
	parts [4]partition
}

// OpenDisk opens a whole-disk device or image and checks its layout.
func OpenDisk(path string) (*Disk, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	d := &Disk{f: f}
	if err := d.readMBR(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Close closes the device.
func (d *Disk) Close() error { return d.f.Close() }

// Path is the device or image path.
func (d *Disk) Path() string { return d.f.Name() }

func (d *Disk) readMBR() error {
	s := make([]byte, sectorSize)
	if _, err := d.f.ReadAt(s, 0); err != nil {
		return fmt.Errorf("read MBR: %w", err)
	}
	p, err := parseMBR(s)
	if err != nil {
		return err
	}
	for i := range 2 {
		if p[i].Size == 0 || p[i].Size > maxSlotSize || p[i].Start < sectorSize {
			return fmt.Errorf("partition %d is not an edgebox boot slot (start %d, size %d)", i+1, p[i].Start, p[i].Size)
		}
	}
	if p[0].Start+p[0].Size > p[1].Start {
		return errors.New("boot slots A and B overlap")
	}
	d.parts = p
	return nil
}

// Active returns the slot the MBR boots ("" if neither is flagged).
func (d *Disk) Active() string {
	switch {
	case d.parts[0].Active && !d.parts[1].Active:
		return "A"
	case d.parts[1].Active && !d.parts[0].Active:
		return "B"
	}
	return ""
}

// SlotSize is the size of a slot partition in bytes.
func (d *Disk) SlotSize(slot string) int64 {
	i, err := slotIndex(slot)
	if err != nil {
		return 0
	}
	return d.parts[i].Size
}

// slot returns a reader/writer window on a slot partition.
func (d *Disk) slot(slot string) (*window, error) {
	i, err := slotIndex(slot)
	if err != nil {
		return nil, err
	}
	return &window{f: d.f, off: d.parts[i].Start, size: d.parts[i].Size}, nil
}

// SetActive flags slot as the partition the MBR boots and clears the flag
// of the other slot: one write of sector 0 (the confirmation of a trial).
func (d *Disk) SetActive(slot string) error {
	i, err := slotIndex(slot)
	if err != nil {
		return err
	}
	s := make([]byte, sectorSize)
	if _, err := d.f.ReadAt(s, 0); err != nil {
		return fmt.Errorf("read MBR: %w", err)
	}
	if _, err := parseMBR(s); err != nil {
		return err
	}
	orig := bytes.Clone(s)
	for j := range 2 {
		flag := byte(0)
		if j == i {
			flag = mbrActive
		}
		s[mbrTable+16*j] = flag
	}
	if bytes.Equal(orig, s) {
		return nil
	}
	if _, err := d.f.WriteAt(s, 0); err != nil {
		return fmt.Errorf("write MBR: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("sync MBR: %w", err)
	}
	return d.readMBR()
}

// ReadADV returns the syslinux ADV of a slot.
func (d *Disk) ReadADV(slot string) (ADV, error) {
	w, err := d.slot(slot)
	if err != nil {
		return nil, err
	}
	loc, err := advLocation(w)
	if err != nil {
		return nil, fmt.Errorf("slot %s: %w", slot, err)
	}
	b := make([]byte, 2*advSize)
	for i := range 2 {
		if _, err := w.ReadAt(b[i*advSize:(i+1)*advSize], loc[i]); err != nil {
			return nil, fmt.Errorf("slot %s: read ADV: %w", slot, err)
		}
	}
	adv, _ := parseADV(b) // an inconsistent ADV is empty, as syslinux sees it
	return adv, nil
}

// WriteADV stores adv in a slot: first copy, sync, second copy, sync, so a
// power cut leaves at least one consistent copy (old or new).
func (d *Disk) WriteADV(slot string, adv ADV) error {
	w, err := d.slot(slot)
	if err != nil {
		return err
	}
	loc, err := advLocation(w)
	if err != nil {
		return fmt.Errorf("slot %s: %w", slot, err)
	}
	b, err := adv.Encode()
	if err != nil {
		return err
	}
	for i := range 2 {
		if _, err := w.WriteAt(b[i*advSize:(i+1)*advSize], loc[i]); err != nil {
			return fmt.Errorf("slot %s: write ADV: %w", slot, err)
		}
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("slot %s: sync ADV: %w", slot, err)
		}
	}
	return nil
}

// dropCache asks the kernel to forget cached pages of a range, so a read
// back comes from the device, not from memory. Harmless on image files.
func (d *Disk) dropCache(off, n int64) {
	unix.Fadvise(int(d.f.Fd()), off, n, unix.FADV_DONTNEED)
}

// window is a partition seen as its own device.
type window struct {
	f         *os.File
	off, size int64
}

func (w *window) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= w.size {
		return 0, io.EOF
	}
	if rest := w.size - off; int64(len(p)) > rest {
		n, err := w.f.ReadAt(p[:rest], w.off+off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return w.f.ReadAt(p, w.off+off)
}

func (w *window) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > w.size {
		return 0, fmt.Errorf("write of %d bytes at %d outside the %d-byte slot", len(p), off, w.size)
	}
	return w.f.WriteAt(p, w.off+off)
}
