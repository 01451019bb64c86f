package gateway

import "testing"

func FuzzParseSDP(f *testing.F) {
	f.Add(chromeOffer)
	f.Add("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:9\r\n")
	f.Add("v=0\r\nm=audio 1 RTP/AVP 300 -1 x\r\na=rtpmap:300 x/0\r\na=fmtp:abc\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := parseSDP(s)
		if err != nil {
			return
		}
		if info.Audio == nil {
			t.Fatal("parsed without audio")
		}
		for _, c := range info.Audio.Codecs {
			if c.PT > 127 || c.Name == "" {
				t.Fatalf("bad codec %+v", c)
			}
		}
		pbxOfferCodecs(info.Audio, []string{"opus", "pcmu"})
		planBridge(info.Audio, info.Audio)
	})
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{`{"type":"auth","token":"x"}`, `{"type":"offer","sdp":"v=0"}`, `{"type":"dtmf","digits":"12#"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`, `{`, `[]`, `{"type":7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		switch m.Type {
		case MsgAuth, MsgOffer, MsgAnswer, MsgCandidate, MsgDTMF, MsgHangup:
		default:
			t.Fatalf("accepted type %q", m.Type)
		}
		if m.Type == MsgDTMF && validDTMF(m.Digits) != nil {
			t.Fatal("accepted bad digits")
		}
	})
}

func FuzzIsScanner(f *testing.F) {
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nUser-Agent: friendly-scanner\r\n\r\n"))
	f.Add([]byte("INVITE sip:x SIP/2.0\r\nFrom: <sip:a@b>\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, b []byte) { isScanner(b) })
}

func FuzzBrowserRewrite(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Add([]byte{0x80, 200, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pt := newPTMap()
		pt[0] = 0
		out := browserRewrite(b, &pt)
		if out >= 0 && len(b) < rtpHeaderLen {
			t.Fatal("short packet accepted")
		}
	})
}
