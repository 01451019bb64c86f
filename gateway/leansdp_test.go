package gateway

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// a Chrome offer with audio, video and a data channel, bundled
const leanChromeOffer = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 0 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:abcd\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n" +
	"a=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:126 telephone-event/8000\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n" +
	"a=fingerprint:sha-256 %[1]s\r\na=setup:actpass\r\na=mid:1\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\na=sctp-port:5000\r\n"

func leanTestOffer(cert []byte) string {
	sum := sha256.Sum256(cert)
	var hex []string
	for _, b := range sum {
		hex = append(hex, fmt.Sprintf("%02X", b))
	}
	return fmt.Sprintf(leanChromeOffer, strings.Join(hex, ":"))
}

// The answer carries the bridged codec on the audio section, with the
// box's ICE-lite credentials, certificate fingerprint, DTLS role and its
// one candidate; video and the data channel are refused, and the bundle
// keeps only the audio.
func TestLeanAnswer(t *testing.T) {
	cert := []byte("the browser's certificate")
	o, err := parseLeanOffer(leanTestOffer(cert))
	if err != nil {
		t.Fatal(err)
	}
	if o.ufrag != "abcd" || o.mid != "0" || o.audio != 0 || !o.certMatches(cert) || o.certMatches([]byte("another")) {
		t.Fatalf("offer read as %+v", o)
	}
	plan := &bridgePlan{Browser: codec{Name: "pcmu", PT: 0, Clock: 8000, Channels: 1},
		TE: &codec{Name: "telephone-event", PT: 126, Clock: 8000, Channels: 1, Fmtp: "0-16"}}
	d := leanDesc{sessID: 7, version: 1, ufrag: "boxufrag", pwd: "boxpasswordboxpassword", fingerprint: "sha-256 AA:BB",
		cand: netip.MustParseAddrPort("192.0.2.7:8478"), ssrc: 1234, plan: plan, direction: "sendrecv"}
	ans, err := leanSDP(o, d)
	if err != nil {
		t.Fatal(err)
	}
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(ans); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, ans)
	}
	if _, ok := sd.Attribute("ice-lite"); !ok {
		t.Error("answer is not ICE-lite")
	}
	if g, _ := sd.Attribute("group"); g != "BUNDLE 0" {
		t.Errorf("bundle %q, want the audio only", g)
	}
	if len(sd.MediaDescriptions) != 3 {
		t.Fatalf("%d m= sections, want the offer's 3", len(sd.MediaDescriptions))
	}
	a := sd.MediaDescriptions[0]
	for _, want := range []string{"ice-ufrag:boxufrag", "ice-pwd:boxpasswordboxpassword", "fingerprint:sha-256 AA:BB",
		"setup:passive", "rtcp-mux", "sendrecv", "rtpmap:0 PCMU/8000", "rtpmap:126 telephone-event/8000", "fmtp:126 0-16",
		"ssrc:1234 cname:edgebox", "candidate:1 1 udp 2130706431 192.0.2.7 8478 typ host", "end-of-candidates"} {
		if !strings.Contains(ans, "a="+want+"\r\n") {
			t.Errorf("answer lacks a=%s:\n%s", want, ans)
		}
	}
	if got := strings.Join(a.MediaName.Formats, " "); got != "0 126" || a.MediaName.Port.Value != 8478 {
		t.Errorf("audio m= line: port %d formats %q", a.MediaName.Port.Value, got)
	}
	for i, kind := range []string{"video", "application"} {
		m := sd.MediaDescriptions[i+1]
		mid, _ := m.Attribute("mid")
		if m.MediaName.Media != kind || m.MediaName.Port.Value != 0 || mid != fmt.Sprint(i+1) {
			t.Errorf("%s: %+v (mid %q), want refused with its mid", kind, m.MediaName, mid)
		}
	}
	// the browser's answer to the box's re-offer
	good := strings.Replace(leanTestOffer(cert), "a=setup:actpass", "a=setup:active", 2)
	if err := checkLeanAnswer(good, o, 0); err != nil {
		t.Errorf("a good answer refused: %v", err)
	}
	for name, bad := range map[string]string{
		"ICE restart":  strings.ReplaceAll(good, "ice-ufrag:abcd", "ice-ufrag:efgh"),
		"DTLS role":    strings.Replace(good, "a=setup:active", "a=setup:passive", 1),
		"audio off":    strings.Replace(good, "m=audio 9", "m=audio 0", 1),
		"codec gone":   strings.Replace(good, "SAVPF 111 0 126", "SAVPF 111 126", 1),
		"not even SDP": "hello",
	} {
		if err := checkLeanAnswer(bad, o, 0); err == nil {
			t.Errorf("%s: answer taken", name)
		}
	}
}

// Offers the lean stack cannot answer are refused with a reason.
func TestLeanOfferRefused(t *testing.T) {
	offer := leanTestOffer([]byte("c"))
	for name, tc := range map[string]struct{ sdp, want string }{
		"no audio":       {strings.Replace(offer, "m=audio 9", "m=audio 0", 1), "no audio"},
		"no ICE":         {strings.ReplaceAll(offer, "a=ice-ufrag:abcd\r\n", ""), "ICE credentials"},
		"server role":    {strings.Replace(offer, "a=setup:actpass", "a=setup:passive", 1), "setup:passive"},
		"no fingerprint": {strings.Replace(offer, "a=fingerprint:sha-256", "a=x-fingerprint:sha-256", 1), "no DTLS fingerprint"},
		"md5":            {strings.Replace(offer, "a=fingerprint:sha-256", "a=fingerprint:md5", 1), "md5"},
		"short":          {strings.Replace(offer, "a=fingerprint:sha-256 ", "a=fingerprint:sha-256 00:", 1), "malformed"},
		"garbage":        {"v=0\r\nhello", "offer"},
	} {
		_, err := parseLeanOffer(tc.sdp)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
}

// Whatever a browser offers, the lean stack refuses it or answers with
// SDP that parses again.
func FuzzLeanOffer(f *testing.F) {
	f.Add(leanTestOffer([]byte("c")))
	f.Add(chromeOffer)
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := parseLeanOffer(raw)
		if err != nil {
			return
		}
		plan := &bridgePlan{Browser: codec{Name: "pcmu", PT: 0, Clock: 8000, Channels: 1}}
		ans, err := leanSDP(o, leanDesc{ufrag: "u", pwd: "p", fingerprint: "sha-256 AA",
			cand: netip.MustParseAddrPort("127.0.0.1:1"), plan: plan, direction: "sendrecv"})
		if err != nil {
			return
		}
		if err := (&sdp.SessionDescription{}).UnmarshalString(ans); err != nil {
			t.Fatalf("answer does not parse: %v\n%q", err, ans)
		}
	})
}
