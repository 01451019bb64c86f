package gateway

import "testing"

func TestMendStatusLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SIP/2.0 480\r\nVia: x\r\n\r\n", "SIP/2.0 480 \r\nVia: x\r\n\r\n"},
		{"SIP/2.0 480\nVia: x\n\n", "SIP/2.0 480 \nVia: x\n\n"},
		{"SIP/2.0 480 \r\nVia: x\r\n\r\n", "SIP/2.0 480 \r\nVia: x\r\n\r\n"},
		{"SIP/2.0 486 Busy Here\r\n\r\n", "SIP/2.0 486 Busy Here\r\n\r\n"},
		{"SIP/2.0 4x0\r\n\r\n", "SIP/2.0 4x0\r\n\r\n"},
		{"INVITE sip:a SIP/2.0\r\n\r\n", "INVITE sip:a SIP/2.0\r\n\r\n"},
	} {
		b := make([]byte, len(tc.in)+8)
		n := mendStatusLine(b, copy(b, tc.in))
		if got := string(b[:n]); got != tc.want {
			t.Errorf("mendStatusLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// no room for the space: left as it is
	full := []byte("SIP/2.0 480\r\n\r\n")
	if n := mendStatusLine(full, len(full)); n != len(full) || string(full) != "SIP/2.0 480\r\n\r\n" {
		t.Errorf("a full buffer was changed: %q", full[:n])
	}
}
