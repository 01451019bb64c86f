package update

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The syslinux auxiliary data vector (ADV): two copies of a 512-byte,
// checksummed block in the last two sectors of ldlinux.sys. syslinux reads
// it at boot; when it holds a boot-once command (tag 1), syslinux clears
// it, writes the ADV back and boots that command. That is the "boot this
// once" of edgebox's trial boots (docs/updates.md). Other tags are kept by
// syslinux as they are, so edgebox keeps its trial record beside it.
const (
	advSize   = 512
	advLen    = advSize - 3*4
	advMagic1 = 0x5a2d2fa5
	advMagic2 = 0xa3041767
	advMagic3 = 0xdd28bf64

	advTagEnd      = 0
	advTagBootOnce = 1
	// advTagTrial is edgebox's own tag: the JSON trial record.
	advTagTrial = 0xE5
)

// ADV is the decoded content of an auxiliary data vector: tag -> value.
type ADV map[byte][]byte

// consistent reports whether one 512-byte copy carries both signatures and
// a correct checksum.
func advConsistent(b []byte) bool {
	if len(b) < advSize || binary.LittleEndian.Uint32(b) != advMagic1 ||
		binary.LittleEndian.Uint32(b[advSize-4:]) != advMagic3 {
		return false
	}
	var sum uint32
	for i := 4; i < advSize-4; i += 4 {
		sum += binary.LittleEndian.Uint32(b[i:])
	}
	return sum == advMagic2
}

// parseADV decodes the two copies as syslinux does: the first consistent
// copy wins; when neither is, the ADV is empty (that is what syslinux then
// boots with: no boot-once, the default label).
func parseADV(b []byte) (ADV, error) {
	adv := ADV{}
	var data []byte
	switch {
	case len(b) >= advSize && advConsistent(b[:advSize]):
		data = b[8 : advSize-4]
	case len(b) >= 2*advSize && advConsistent(b[advSize:2*advSize]):
		data = b[advSize+8 : 2*advSize-4]
	default:
		return adv, errors.New("no consistent ADV copy (treated as empty)")
	}
	for len(data) > 0 {
		tag := data[0]
		if tag == advTagEnd {
			break
		}
		if len(data) < 2 || len(data) < 2+int(data[1]) {
			return ADV{}, errors.New("ADV item runs past the end (treated as empty)")
		}
		n := int(data[1])
		if n > 0 {
			adv[tag] = append([]byte(nil), data[2:2+n]...)
		}
		data = data[2+n:]
	}
	return adv, nil
}

// Encode gives both copies, 1024 bytes, ready to write.
func (a ADV) Encode() ([]byte, error) {
	b := make([]byte, 2*advSize)
	data := b[8 : advSize-4]
	p := 0
	// Fixed order, so the same content always encodes the same bytes.
	for t := 1; t < 256; t++ {
		v, ok := a[byte(t)]
		if !ok || len(v) == 0 {
			continue
		}
		if len(v) > 255 || p+2+len(v) > advLen {
			return nil, fmt.Errorf("ADV: item %d (%d bytes) does not fit", t, len(v))
		}
		data[p], data[p+1] = byte(t), byte(len(v))
		copy(data[p+2:], v)
		p += 2 + len(v)
	}
	binary.LittleEndian.PutUint32(b, advMagic1)
	binary.LittleEndian.PutUint32(b[advSize-4:], advMagic3)
	sum := uint32(advMagic2)
	for i := 8; i < advSize-4; i += 4 {
		sum -= binary.LittleEndian.Uint32(b[i:])
	}
	binary.LittleEndian.PutUint32(b[4:], sum)
	copy(b[advSize:], b[:advSize])
	return b, nil
}

// advLocation returns the offsets, within a syslinux FAT partition, of the
// two ADV sectors: the last two sectors of ldlinux.sys.
func advLocation(part io.ReaderAt) ([2]int64, error) {
	var loc [2]int64
	ext, size, err := fatFile(part, "ldlinux.sys")
	if err != nil {
		return loc, fmt.Errorf("find syslinux's ADV: %w", err)
	}
	if size < 2*advSize || size%advSize != 0 {
		return loc, fmt.Errorf("find syslinux's ADV: ldlinux.sys is %d bytes, not whole sectors", size)
	}
	for i := range 2 {
		off, ok := fileOffset(ext, size-int64(2-i)*advSize)
		if !ok {
			return loc, errors.New("find syslinux's ADV: ldlinux.sys extents too short")
		}
		loc[i] = off
	}
	return loc, nil
}
