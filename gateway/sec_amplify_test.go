package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStrangerINVITEAnsweredOnce: a stranger's INVITE (a spoofed source in
// the attack) gets a single 403 and nothing more. A kept INVITE server
// transaction re-sent its 403 (Timer G) until an ACK that never comes: 11
// answers over 32 s, an amplifier aimed at the spoofed address.
func TestStrangerINVITEAnsweredOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	stranger := newSIPPeer(t, "127.0.0.2", sipListen(svc))
	stranger.request(t, "INVITE", "Linphone", "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")

	// The first answer (generous wait), then every datagram over a window
	// long enough for Timer G's first retransmissions (0.5, 1, 2 s) even
	// on a loaded box.
	var answers []string
	buf := make([]byte, 65535)
	stranger.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var end time.Time
	for {
		n, _, err := stranger.conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		answers = append(answers, line)
		if end.IsZero() {
			end = time.Now().Add(5 * time.Second)
			stranger.conn.SetReadDeadline(end)
		}
	}
	if len(answers) == 0 || answers[0] != "SIP/2.0 403 Forbidden" {
		t.Fatalf("stranger's INVITE answered %q, want one 403", answers)
	}
	if len(answers) > 1 {
		t.Errorf("stranger's INVITE got %d answers %q: a spoofed source is flooded", len(answers), answers)
	}
	if v := metricValue(t, svc, "edgebox_gateway_sip_refused_total"); v != "1" {
		t.Errorf("refusals counted %q, want 1", v)
	}
}
