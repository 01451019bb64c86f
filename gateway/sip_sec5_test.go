package gateway_test

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// TestSec5StrangerAnswerNoLargerThanRequest: the box answers a stranger's
// SIP request over UDP statelessly (one answer, first review), but that
// answer must not be larger than the request: the source of a UDP request
// is not proven, so an answer larger than its request makes the box an
// amplifier toward whatever address an internet host writes as its
// source. The compact forms (RFC 3261 7.3.3) make a request of some 110
// bytes that the full header names, a To tag, Allow, Accept and
// Content-Length grew to 300 (OPTIONS) and 220 (INVITE). Fifth review.
func TestSec5StrangerAnswerNoLargerThanRequest(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	to, err := net.ResolveUDPAddr("udp", sipListen(svc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.3")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 65535)
	for i, method := range []string{"OPTIONS", "INVITE", "MESSAGE", "REGISTER"} {
		req := fmt.Sprintf("%s sip:a SIP/2.0\r\nv:SIP/2.0/UDP b;branch=z9hG4bK%d\r\nf:<sip:c>;tag=%d\r\nt:<sip:a>\r\ni:%d\r\nCSeq:1 %s\r\n\r\n", method, i, i, i, method)
		if _, err := c.WriteToUDP([]byte(req), to); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			continue // no answer is no amplification
		}
		if n > len(req) {
			t.Errorf("%s of %d bytes from a stranger answered with %d bytes (x%.1f):\n%s", method, len(req), n, float64(n)/float64(len(req)), buf[:n])
		}
	}
	// A full-size probe (the monitoring case) still gets its answer.
	p := newSIPPeer(t, "127.0.0.3", sipListen(svc))
	p.request(t, "OPTIONS", "monitor", "")
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := p.conn.ReadFromUDP(buf); err != nil {
		t.Errorf("a monitoring OPTIONS of normal size got no answer: %v", err)
	}
}
