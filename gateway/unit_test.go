package gateway

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestTokenStore(t *testing.T) {
	s := newTokenStore()
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	g := callGrant{From: "sip:a@b", Destination: "q", Expires: now.Add(time.Minute)}
	tok, err := s.issue(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) < 40 {
		t.Errorf("token %q too short", tok)
	}
	for h := range s.grants {
		if strings.Contains(string(h[:]), tok) {
			t.Error("token stored in the clear")
		}
	}
	if _, err := s.redeem(tok, "sip:a@b", "q"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.redeem(tok, "", ""); err != errTokenUnknown {
		t.Errorf("reuse: %v", err)
	}
	tok, _ = s.issue(g)
	now = now.Add(2 * time.Minute)
	if _, err := s.redeem(tok, "", ""); err != errTokenUnknown && err != errTokenExpired {
		t.Errorf("expired: %v", err)
	}
	now = time.Unix(1000, 0)
	tok, _ = s.issue(g)
	now = now.Add(time.Minute) // exactly at expiry
	s.mu.Lock()
	_, err = func() (callGrant, error) { s.mu.Unlock(); return s.redeem(tok, "", "") }()
	if err != errTokenExpired && err != errTokenUnknown {
		t.Errorf("at expiry: %v", err)
	}
	now = time.Unix(1000, 0)
	tok, _ = s.issue(g)
	if _, err := s.redeem(tok, "", "other"); err != errTokenMismatch {
		t.Errorf("mismatch: %v", err)
	}
	if s.pending() != 0 {
		t.Errorf("%d tokens left", s.pending())
	}
}

func TestTokenExpiredIsReported(t *testing.T) {
	s := newTokenStore()
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	tok, _ := s.issue(callGrant{Expires: now.Add(time.Second)})
	now = now.Add(2 * time.Second)
	// Redeem looks the token up before any clean-up, so the client learns
	// it was too slow rather than "unknown".
	if _, err := s.redeem(tok, "", ""); err != errTokenExpired {
		t.Errorf("got %v, want ErrTokenExpired", err)
	}
}

const chromeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\na=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:13 CN/8000\r\na=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n"

func TestPBXOfferFromChromeOffer(t *testing.T) {
	info, err := parseSDP(chromeOffer)
	if err != nil {
		t.Fatal(err)
	}
	got := pbxOfferCodecs(info.Audio, []string{"opus", "g722", "pcmu", "pcma"})
	var names []string
	for _, c := range got {
		names = append(names, c.rtpmap())
	}
	want := "111 opus/48000/2,9 G722/8000,0 PCMU/8000,8 PCMA/8000,110 telephone-event/48000,126 telephone-event/8000"
	if strings.Join(names, ",") != want {
		t.Errorf("PBX offer codecs\n got %s\nwant %s", strings.Join(names, ","), want)
	}
	sdp := plainSDP{SessionID: 1, Version: 1, Addr: netip.MustParseAddr("192.0.2.1"), Audio: plainMedia{Port: 20000, Codecs: got}}.String()
	back, err := parseSDP(sdp)
	if err != nil {
		t.Fatalf("own SDP does not parse: %v\n%s", err, sdp)
	}
	if back.Audio.Port != 20000 || len(back.Audio.Codecs) != 6 || back.Audio.RTCPPort != 20001 {
		t.Errorf("round trip: %+v", back.Audio)
	}
}

func TestPlanBridge(t *testing.T) {
	offer, _ := parseSDP(chromeOffer)
	cases := []struct {
		name, answer string
		codec        string
		pbxPT        uint8
		te           bool
		hold         bool
		err          bool
	}{
		{"pcmu with te", "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", "pcmu", 0, true, false, false},
		{"g722 static", "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 9\r\n", "g722", 9, false, false, false},
		{"opus other pt", "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n", "opus", 96, false, false, false},
		{"hold old style", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\n", "pcma", 8, false, true, false},
		{"hold sendonly", "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8\r\na=sendonly\r\n", "pcma", 8, false, true, false},
		{"refused", "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n", "", 0, false, false, true},
		{"no common", "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n", "", 0, false, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ans, err := parseSDP(c.answer)
			if err != nil {
				t.Fatal(err)
			}
			p, err := planBridge(offer.Audio, ans.Audio)
			if c.err {
				if err == nil {
					t.Errorf("planned %+v, want an error", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Browser.Name != c.codec || p.PBXPT != c.pbxPT || (p.TE != nil) != c.te || p.Hold != c.hold {
				t.Errorf("plan %+v", p)
			}
		})
	}
}

func TestParseSDPRefuses(t *testing.T) {
	for _, bad := range []string{"", "hello", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 9 RTP/AVP 96\r\n",
		"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 not-an-ip\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\nc=IN IP4 nope\r\n",
		strings.Repeat("a", maxSDP+1)} {
		if _, err := parseSDP(bad); err == nil {
			t.Errorf("%q parsed", bad[:min(len(bad), 40)])
		}
	}
}

func TestContextHeaders(t *testing.T) {
	if h := contextHeaderName("customer_id"); h != "X-Customer-Id" {
		t.Errorf("got %s", h)
	}
	if err := validateContext(map[string]string{"customer_id": "42", "page": "/a?b=c"}); err != nil {
		t.Error(err)
	}
	for _, bad := range []map[string]string{{"a b": "x"}, {"x": "1\r\nVia: y"}, {"__": "x"}, {"x": strings.Repeat("v", 257)}} {
		if validateContext(bad) == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestScannerDetection(t *testing.T) {
	for ua, want := range map[string]bool{"friendly-scanner": true, "SIPVicious 0.3": true, "sipcli/v1.8": true, "FreeSWITCH-mod_sofia": false, "Linphone": false} {
		msg := "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4\r\nUser-Agent: " + ua + "\r\n\r\n"
		if isScanner([]byte(msg)) != want {
			t.Errorf("%q: scanner=%v", ua, !want)
		}
	}
	if !isScanner([]byte("INVITE sip:x SIP/2.0\r\nFrom: \"friendly-scanner\" <sip:100@1.2.3.4>\r\n\r\n")) {
		t.Error("scanner in From not caught")
	}
	if isScanner([]byte("INVITE sip:x SIP/2.0\r\n\r\nUser-Agent: friendly-scanner")) {
		t.Error("body searched")
	}
	// random tags spell signatures now and then: a call's 200 OK was once
	// dropped for "iwar" in the gateway's own From tag
	for _, from := range []string{"<sip:calldial@example.com>;tag=2RkkAHoGg8LIwArk", "sip:a@b;tag=xSMAPx", "\"Agent\" <sip:1@pbx>;tag=SipVicious"} {
		if isScanner([]byte("SIP/2.0 200 OK\r\nFrom: " + from + "\r\n\r\n")) {
			t.Errorf("From %q taken for a scanner", from)
		}
	}
	if !isScanner([]byte("INVITE sip:x SIP/2.0\r\nf: sipvicious<sip:100@1.2.3.4>;tag=1\r\n\r\n")) {
		t.Error("scanner in a compact From not caught")
	}
}

// The PBX's messages are admitted whatever they contain; others that
// look like a scanner's are dropped.
func TestFilterTrustsThePBX(t *testing.T) {
	f := &sipFilter{limit: newRateLimiter(600)}
	pbx := netip.MustParseAddr("192.0.2.10")
	f.setAllowed([]netip.Prefix{netip.PrefixFrom(pbx, 32)})
	scan := []byte("OPTIONS sip:x SIP/2.0\r\nUser-Agent: friendly-scanner\r\n\r\n")
	if !f.admit(pbx, scan) {
		t.Error("the PBX's message dropped")
	}
	if f.admit(netip.MustParseAddr("198.51.100.7"), scan) {
		t.Error("a scanner admitted")
	}
}

func TestRateLimiter(t *testing.T) {
	r := newRateLimiter(60) // burst 10, 1 per second
	now := time.Unix(0, 0)
	r.now = func() time.Time { return now }
	a := netip.MustParseAddr("192.0.2.1")
	n := 0
	for i := 0; i < 100; i++ {
		if r.allow(a) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("burst %d, want 10", n)
	}
	now = now.Add(3 * time.Second)
	n = 0
	for i := 0; i < 100; i++ {
		if r.allow(a) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("after 3 s: %d, want 3", n)
	}
	if !r.allow(netip.MustParseAddr("192.0.2.2")) {
		t.Error("another source limited")
	}
	if !r.blocked(a) {
		t.Error("a source that spent its tokens not blocked")
	}
	// a reload keeps the spent bucket empty, then refills at the new rate
	r.setRate(600) // burst 100, 10 per second
	if !r.blocked(a) {
		t.Error("the reload refilled a spent bucket")
	}
	now = now.Add(time.Second)
	n = 0
	for i := 0; i < 100; i++ {
		if r.allow(a) {
			n++
		}
	}
	if n != 10 {
		t.Errorf("1 s after the reload: %d, want 10", n)
	}
}

func TestStreamStatsLossAndWrap(t *testing.T) {
	var s streamStats
	s.clock = 8000
	t0 := time.Unix(0, 0)
	seq := uint16(65530)
	for i := 0; i < 20; i++ {
		if i == 7 || i == 8 {
			seq++
			continue // lost across the wrap
		}
		s.countReceived(172, seq, uint32(i*160), t0.Add(time.Duration(i)*20*time.Millisecond))
		seq++
	}
	if got := s.lost.Load(); got != 2 {
		t.Errorf("lost %d, want 2", got)
	}
	if s.packets.Load() != 18 {
		t.Errorf("packets %d", s.packets.Load())
	}
	if s.jitterMicros.Load() > 1000 {
		t.Errorf("jitter %d µs on a perfect clock", s.jitterMicros.Load())
	}
}

func TestRelayRewritesHeader(t *testing.T) {
	a, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	b, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer a.Close()
	defer b.Close()
	pt := newPTMap()
	pt[111] = 96
	pt[126] = 101
	s := &pbxSender{conn: a, remote: b.LocalAddr().(*net.UDPAddr).AddrPort(), ssrc: 0xdeadbeef, pt: pt, tePT: 101, teClock: 8000, stats: &streamStats{}}
	pkt := make([]byte, 12+20)
	pkt[0], pkt[1] = 0x80, 0x80|111
	binary.BigEndian.PutUint16(pkt[2:], 1000)
	binary.BigEndian.PutUint32(pkt[4:], 5000)
	binary.BigEndian.PutUint32(pkt[8:], 0x11111111)
	if err := s.relay(pkt); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := b.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf[1] != 0x80|96 || binary.BigEndian.Uint32(buf[8:]) != 0xdeadbeef || binary.BigEndian.Uint16(buf[2:]) != 1000 || n != 32 {
		t.Errorf("relayed header % x", buf[:12])
	}
	// dropped: unknown payload type, on hold, not RTP
	pkt[1] = 13
	s.relay(pkt)
	pkt[1] = 111
	s.setPaused(true)
	s.relay(pkt)
	s.setPaused(false)
	if got := s.stats.packets.Load(); got != 1 {
		t.Errorf("%d packets sent, want only the first (unknown PT and hold dropped)", got)
	}
	if err := s.relay([]byte{1, 2, 3}); err != errNotRTP {
		t.Errorf("short packet: %v", err)
	}
	// DTMF injection continues the sequence numbers
	stop := make(chan struct{})
	if err := s.sendDTMF('5', 40*time.Millisecond, stop); err != nil {
		t.Fatal(err)
	}
	var seqs []uint16
	for i := 0; i < 4; i++ { // one progress packet, three end packets
		b.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := b.ReadFromUDP(buf)
		if err != nil {
			break
		}
		if buf[1]&0x7f != 101 || n != 16 || buf[12] != 5 {
			t.Fatalf("dtmf packet % x", buf[:n])
		}
		seqs = append(seqs, binary.BigEndian.Uint16(buf[2:]))
	}
	if len(seqs) < 4 || seqs[0] != 1001 {
		t.Errorf("dtmf sequence numbers %v, want from 1001", seqs)
	}
	pkt[1] = 111
	binary.BigEndian.PutUint16(pkt[2:], 1001)
	s.relay(pkt)
	b.SetReadDeadline(time.Now().Add(2 * time.Second))
	b.ReadFromUDP(buf)
	if got := binary.BigEndian.Uint16(buf[2:]); got != seqs[len(seqs)-1]+1 {
		t.Errorf("audio after dtmf has seq %d, want %d", got, seqs[len(seqs)-1]+1)
	}
}

// The rollover counter follows wraps forward and gives late packets from
// before a wrap the counter they were sent with.
func TestRocTrackerFollowsWraps(t *testing.T) {
	var r rocTracker
	for _, step := range []struct {
		seq  uint16
		want uint32
	}{
		{65530, 0}, {65535, 0}, {2, 1}, {65534, 0} /* late, before the wrap */, {3, 1},
		{30000, 1}, {60000, 1}, {100, 2}, {99, 2} /* late, after */, {200, 2},
	} {
		if got := r.next(step.seq); got != step.want {
			t.Fatalf("seq %d: rollover counter %d, want %d", step.seq, got, step.want)
		}
	}
}

// The browser-bound stream's numbers follow the PBX's (gaps and late
// packets stay visible) but never repeat: a restarted numbering or a new
// SSRC goes on from the last number sent, a repeated packet is dropped,
// so no SRTP index is used twice.
func TestSeqRenumberNeverRepeats(t *testing.T) {
	var r seqRenumber
	used := map[uint16]bool{}
	for i, step := range []struct {
		in   uint16
		ssrc uint32
		want uint16
		ok   bool
	}{
		{100, 1, 100, true}, {101, 1, 101, true}, {104, 1, 104, true} /* loss stays a gap */, {103, 1, 103, true}, /* late */
		{103, 1, 0, false} /* repeat */, {105, 1, 105, true},
		{7, 1, 106, true} /* numbering restarted */, {8, 1, 107, true},
		{65530, 2, 108, true} /* new source */, {65531, 2, 109, true}, {65535, 2, 113, true}, {0, 2, 114, true}, /* wraps with it */
		{65535, 2, 0, false} /* repeat across the wrap */, {65534, 2, 112, true} /* late across the wrap */, {1, 2, 115, true},
	} {
		got, ok := r.next(step.in, step.ssrc)
		if got != step.want || ok != step.ok {
			t.Fatalf("step %d: in %d -> %d %v, want %d %v", i, step.in, got, ok, step.want, step.ok)
		}
		if ok && used[got] {
			t.Fatalf("step %d: number %d sent twice", i, got)
		}
		used[got] = true
	}
}

// TestPendingSocketsPerSource: the cap on sockets without a token counts
// an IPv6 source by its /64 (one subscriber can use all of it), IPv4 by
// the address, and frees places on release.
func TestPendingSocketsPerSource(t *testing.T) {
	var p pendingSockets
	v6 := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1)) }
	for i := 0; i < maxPendingPerSource; i++ {
		if err := p.acquire(v6(i)); err != nil {
			t.Fatalf("place %d: %v", i, err)
		}
	}
	if err := p.acquire(v6(1000)); err == nil {
		t.Error("another address of the same /64 got a place beyond the cap")
	}
	if err := p.acquire(netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
		t.Errorf("another /64 refused: %v", err)
	}
	if err := p.acquire(netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("an IPv4 source refused: %v", err)
	}
	p.release(v6(3))
	if err := p.acquire(v6(2000)); err != nil {
		t.Errorf("no place after a release: %v", err)
	}
}
