package modem

import (
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf16"
)

// operatorName is the operator's name as +COPS? gave it, decoded when the
// card wrote it in UCS-2 hex ("00540065006C0065006B006F006D" for
// "Telekom"). Huawei firmware does so whatever AT+CSCS says, and any card
// does after AT+CSCS="UCS2" (left set by a passthrough); ModemManager
// likewise decodes a name that is hex of whole UCS-2 characters. A name
// is taken as hex only when it has at least two characters and decodes
// to printable text with no control characters, so "Orange" or "3" stay
// as they are and a numeric "26201" is never hex (its length is odd).
func operatorName(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 8 || len(s)%4 != 0 || !isHex(s) {
		return s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return s
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	// Padding to a fixed field length (0x0000, or 0xFFFF as in the SIM's
	// own name files) is not part of the name.
	for len(units) > 0 && (units[len(units)-1] == 0 || units[len(units)-1] == 0xFFFF) {
		units = units[:len(units)-1]
	}
	if len(units) == 0 {
		return s
	}
	runes := utf16.Decode(units)
	for _, r := range runes {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return s
		}
	}
	return strings.TrimSpace(string(runes))
}
