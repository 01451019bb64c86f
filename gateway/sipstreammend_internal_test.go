package gateway

import (
	"net"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestStreamMender: a TCP stream of a 100, a bare-status 480, a NOTIFY
// whose sipfrag body is a bare status line (left alone: the body is not
// looked at) and a 486, cut into reads at every place and into two cuts:
// what comes out is the same stream with only the 480's status line
// mended, whatever the cuts.
func TestStreamMender(t *testing.T) {
	in := "\r\n\r\nSIP/2.0 100 Trying\r\nVia: x\r\nContent-Length: 0\r\n\r\n" +
		"SIP/2.0 480\r\nVia: x\r\nl: 0\r\n\r\n" +
		"NOTIFY sip:a SIP/2.0\r\nContent-Type: message/sipfrag\r\nContent-Length: 13\r\n\r\nSIP/2.0 480\r\n" +
		"SIP/2.0 486 Busy Here\r\nContent-Length:2\r\n\r\nab"
	want := "\r\n\r\nSIP/2.0 100 Trying\r\nVia: x\r\nContent-Length: 0\r\n\r\n" +
		"SIP/2.0 480 \r\nVia: x\r\nl: 0\r\n\r\n" +
		"NOTIFY sip:a SIP/2.0\r\nContent-Type: message/sipfrag\r\nContent-Length: 13\r\n\r\nSIP/2.0 480\r\n" +
		"SIP/2.0 486 Busy Here\r\nContent-Length:2\r\n\r\nab"
	props := sip.TransportReadProps{Transport: "TCP", LocalAddr: &net.TCPAddr{Port: 1}, RemoteAddr: &net.TCPAddr{Port: 2}}
	run := func(cuts ...int) string {
		m := newStreamMender()
		var got []byte
		at := 0
		for _, c := range append(cuts, len(in)) {
			out, _ := m.filter(props, []byte(in[at:c]))
			got = append(got, out...)
			at = c
		}
		if len(m.streams) != 0 {
			t.Errorf("cuts %v: state kept after the stream's last message ended", cuts)
		}
		return string(got)
	}
	for i := 0; i <= len(in); i++ {
		if got := run(i); got != want {
			t.Fatalf("cut at %d:\n%q\nwant\n%q", i, got, want)
		}
		for j := i; j <= len(in); j += 7 {
			if got := run(i, j); got != want {
				t.Fatalf("cuts at %d, %d:\n%q\nwant\n%q", i, j, got, want)
			}
		}
	}
	// UDP is not its business (mended as read: sipfilter.go)
	udp := props
	udp.Transport = "UDP"
	if out, _ := newStreamMender().filter(udp, []byte("SIP/2.0 480\r\n\r\n")); string(out) != "SIP/2.0 480\r\n\r\n" {
		t.Errorf("UDP changed: %q", out)
	}
}
