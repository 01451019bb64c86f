package openvpn

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Windows saves a text file as "Unicode" (UTF-16, little-endian, with a
// byte-order mark) when an admin picks it in Notepad's Save As, and some
// management consoles export profiles that way. openvpn reads only
// UTF-8/ASCII, and the NUL byte of every other byte made such a profile
// "not a text file". It is converted, and the import says so.

// fromUTF16 converts data to UTF-8 when it is UTF-16 (a byte-order mark,
// or ASCII text with every other byte NUL), and reports whether it was.
func fromUTF16(data []byte) ([]byte, bool) {
	var le bool
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		le, data = true, data[2:]
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		le, data = false, data[2:]
	case looksUTF16(data, 1):
		le = true
	case looksUTF16(data, 0):
		le = false
	default:
		return nil, false
	}
	if len(data)%2 != 0 {
		return nil, false
	}
	u := make([]uint16, len(data)/2)
	for i := range u {
		if le {
			u[i] = uint16(data[2*i]) | uint16(data[2*i+1])<<8
		} else {
			u[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	out = bytes.TrimPrefix(out, []byte("\xef\xbb\xbf"))
	if bytes.IndexByte(out, 0) >= 0 {
		return nil, false // NULs in the text itself: binary after all
	}
	return out, true
}

// looksUTF16 reports whether data's first bytes are ASCII written as
// UTF-16 with the NUL at byte odd (1: little-endian, 0: big-endian) of
// each pair.
func looksUTF16(data []byte, odd int) bool {
	n := min(len(data), 64) &^ 1
	if n < 8 {
		return false
	}
	for i := 0; i < n; i += 2 {
		if data[i+odd] != 0 || data[i+1-odd] == 0 {
			return false
		}
	}
	return true
}
