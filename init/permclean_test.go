package main

import (
	"encoding/binary"
	"testing"
	"time"
)

// ext4Clean runs the check on every sign e2fsck -p would act on.
func TestExt4Clean(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clean := func() []byte {
		sb := make([]byte, 2048)
		s := sb[1024:]
		binary.LittleEndian.PutUint16(s[0x38:], 0xEF53)
		binary.LittleEndian.PutUint16(s[0x3A:], 1)      // valid
		binary.LittleEndian.PutUint16(s[0x36:], 0xFFFF) // max mounts -1: off
		binary.LittleEndian.PutUint32(s[0x60:], 0x2c2)  // filetype, extents, 64bit, flex_bg
		return sb
	}
	if !ext4Clean(clean(), now) {
		t.Fatal("a clean superblock needs a check")
	}
	for name, spoil := range map[string]func(s []byte){
		"not ext":        func(s []byte) { s[0x38] = 0 },
		"not valid":      func(s []byte) { binary.LittleEndian.PutUint16(s[0x3A:], 0) },
		"errors":         func(s []byte) { binary.LittleEndian.PutUint16(s[0x3A:], 3) },
		"journal replay": func(s []byte) { s[0x60] |= 0x4 },
		"mount count": func(s []byte) {
			binary.LittleEndian.PutUint16(s[0x34:], 20)
			binary.LittleEndian.PutUint16(s[0x36:], 20)
		},
		"interval passed": func(s []byte) { binary.LittleEndian.PutUint32(s[0x44:], 86400) },
	} {
		sb := clean()
		spoil(sb[1024:])
		if ext4Clean(sb, now) {
			t.Errorf("%s: no check", name)
		}
	}
	if ext4Clean(make([]byte, 100), now) {
		t.Error("a short read: no check")
	}
}
