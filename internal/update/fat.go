package update

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// fatFile finds the byte ranges a file in the root directory of a FAT12,
// FAT16 or FAT32 filesystem occupies, in file order. It is just enough FAT
// to find syslinux's ldlinux.sys, whose last two sectors hold the ADV.
func fatFile(r io.ReaderAt, name string) (extents []extent, size int64, err error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, 0, fmt.Errorf("read boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xAA {
		return nil, 0, errors.New("no FAT boot sector (missing 55AA signature)")
	}
	bps := int64(binary.LittleEndian.Uint16(bs[11:]))
	spc := int64(bs[13])
	reserved := int64(binary.LittleEndian.Uint16(bs[14:]))
	nfats := int64(bs[16])
	rootEntries := int64(binary.LittleEndian.Uint16(bs[17:]))
	total := int64(binary.LittleEndian.Uint16(bs[19:]))
	fatSize := int64(binary.LittleEndian.Uint16(bs[22:]))
	if total == 0 {
		total = int64(binary.LittleEndian.Uint32(bs[32:]))
	}
	if fatSize == 0 {
		fatSize = int64(binary.LittleEndian.Uint32(bs[36:]))
	}
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || spc == 0 || spc&(spc-1) != 0 || nfats == 0 || fatSize == 0 || reserved == 0 {
		return nil, 0, errors.New("FAT boot sector has impossible geometry")
	}
	rootSectors := (rootEntries*32 + bps - 1) / bps
	firstData := reserved + nfats*fatSize + rootSectors
	if total <= firstData {
		return nil, 0, errors.New("FAT boot sector has impossible geometry")
	}
	clusters := (total - firstData) / spc
	bits := 32
	switch {
	case clusters < 4085:
		bits = 12
	case clusters < 65525:
		bits = 16
	}
	clusterBytes := bps * spc
	fatOff := reserved * bps
	next := func(c uint32) (uint32, error) {
		var b [4]byte
		switch bits {
		case 12:
			off := fatOff + int64(c)*3/2
			if _, err := r.ReadAt(b[:2], off); err != nil {
				return 0, err
			}
			v := uint32(binary.LittleEndian.Uint16(b[:]))
			if c&1 == 1 {
				v >>= 4
			}
			return v & 0xFFF, nil
		case 16:
			if _, err := r.ReadAt(b[:2], fatOff+int64(c)*2); err != nil {
				return 0, err
			}
			return uint32(binary.LittleEndian.Uint16(b[:])), nil
		}
		if _, err := r.ReadAt(b[:], fatOff+int64(c)*4); err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint32(b[:]) & 0x0FFFFFFF, nil
	}
	endOfChain := uint32(1)<<bits - 8 // 0xFF8, 0xFFF8, 0x0FFFFFF8
	if bits == 32 {
		endOfChain = 0x0FFFFFF8
	}
	clusterOff := func(c uint32) int64 { return (firstData + int64(c-2)*spc) * bps }
	validCluster := func(c uint32) bool { return c >= 2 && int64(c) < clusters+2 }

	// The root directory: a fixed region on FAT12/16, a cluster chain on FAT32.
	var rootRanges []extent
	if bits == 32 {
		c := binary.LittleEndian.Uint32(bs[44:])
		for i := 0; validCluster(c) && i < 1024; i++ {
			rootRanges = append(rootRanges, extent{clusterOff(c), clusterBytes})
			if c, err = next(c); err != nil {
				return nil, 0, err
			}
		}
	} else {
		rootRanges = []extent{{(reserved + nfats*fatSize) * bps, rootSectors * bps}}
	}
	want := fatName(name)
	var first uint32
	found := false
	for _, rr := range rootRanges {
		buf := make([]byte, rr.Len)
		if _, err := r.ReadAt(buf, rr.Off); err != nil {
			return nil, 0, fmt.Errorf("read root directory: %w", err)
		}
		for i := 0; i+32 <= len(buf); i += 32 {
			e := buf[i : i+32]
			if e[0] == 0 {
				break
			}
			if e[0] == 0xE5 || e[11] == 0x0F || e[11]&0x18 != 0 { // deleted, long name, volume label or directory
				continue
			}
			if string(e[:11]) == want {
				first = uint32(binary.LittleEndian.Uint16(e[26:])) | uint32(binary.LittleEndian.Uint16(e[20:]))<<16
				size = int64(binary.LittleEndian.Uint32(e[28:]))
				found = true
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		return nil, 0, fmt.Errorf("%s not found in the FAT root directory", name)
	}
	left := size
	for c := first; left > 0; {
		if !validCluster(c) {
			return nil, 0, fmt.Errorf("%s: cluster chain broken", name)
		}
		n := min(left, clusterBytes)
		off := clusterOff(c)
		if k := len(extents); k > 0 && extents[k-1].Off+extents[k-1].Len == off {
			extents[k-1].Len += n
		} else {
			extents = append(extents, extent{off, n})
		}
		left -= n
		if left == 0 {
			break
		}
		nc, err := next(c)
		if err != nil {
			return nil, 0, err
		}
		if nc >= endOfChain {
			return nil, 0, fmt.Errorf("%s: cluster chain ends before the file does", name)
		}
		c = nc
	}
	return extents, size, nil
}

// extent is a byte range.
type extent struct{ Off, Len int64 }

// fatName is the 8.3 directory form of name ("ldlinux.sys" -> "LDLINUX SYS").
func fatName(name string) string {
	base, ext, _ := strings.Cut(strings.ToUpper(name), ".")
	return fmt.Sprintf("%-8.8s%-3.3s", base, ext)
}

// fileOffset maps byte offset off of a file laid out in extents to an offset
// in the filesystem.
func fileOffset(extents []extent, off int64) (int64, bool) {
	for _, e := range extents {
		if off < e.Len {
			return e.Off + off, true
		}
		off -= e.Len
	}
	return 0, false
}
