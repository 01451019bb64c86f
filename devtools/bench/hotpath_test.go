package bench

import (
	"bytes"
	"testing"

	"edgebox/modem"

	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// srtpPair is a sender and a receiver context for one profile.
func srtpPair(b *testing.B, p srtp.ProtectionProfile) (tx, rx *srtp.Context) {
	keyLen, err := p.KeyLen()
	if err != nil {
		b.Fatal(err)
	}
	saltLen, err := p.SaltLen()
	if err != nil {
		b.Fatal(err)
	}
	key, salt := bytes.Repeat([]byte{7}, keyLen), bytes.Repeat([]byte{9}, saltLen)
	if tx, err = srtp.CreateContext(key, salt, p); err != nil {
		b.Fatal(err)
	}
	// decrypting one packet again and again needs replay protection off
	if rx, err = srtp.CreateContext(key, salt, p, srtp.SRTPNoReplayProtection()); err != nil {
		b.Fatal(err)
	}
	return tx, rx
}

// g711Packet is a 20 ms PCMU packet as a browser sends it.
func g711Packet() (rtp.Header, []byte) {
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 0x1234}
	pkt, _ := (&rtp.Packet{Header: h, Payload: make([]byte, 160)}).Marshal()
	return h, pkt
}

func benchProtect(b *testing.B, p srtp.ProtectionProfile) {
	tx, _ := srtpPair(b, p)
	h, pkt := g711Packet()
	dst := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for i := 0; i < b.N; i++ {
		h.SequenceNumber = uint16(i)
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		out, err := tx.EncryptRTP(dst, pkt, &h)
		if err != nil {
			b.Fatal(err)
		}
		dst = out[:0]
	}
}

func benchUnprotect(b *testing.B, p srtp.ProtectionProfile) {
	tx, rx := srtpPair(b, p)
	h, pkt := g711Packet()
	enc, err := tx.EncryptRTP(nil, pkt, &h)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for i := 0; i < b.N; i++ {
		out, err := rx.DecryptRTP(dst, enc, &h)
		if err != nil {
			b.Fatal(err)
		}
		dst = out[:0]
	}
}

// SRTP with the profiles the gateway offers the browser (AES-GCM first).
func BenchmarkSRTPProtectGCM(b *testing.B)   { benchProtect(b, srtp.ProtectionProfileAeadAes128Gcm) }
func BenchmarkSRTPUnprotectGCM(b *testing.B) { benchUnprotect(b, srtp.ProtectionProfileAeadAes128Gcm) }
func BenchmarkSRTPProtectCMSHA1(b *testing.B) {
	benchProtect(b, srtp.ProtectionProfileAes128CmHmacSha1_80)
}
func BenchmarkSRTPUnprotectCMSHA1(b *testing.B) {
	benchUnprotect(b, srtp.ProtectionProfileAes128CmHmacSha1_80)
}

// invite is an INVITE as the gateway sends it to the PBX.
var invite = []byte("INVITE sip:agent@127.0.0.1:5060 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bK.8Jd7v2Kq1wXy\r\n" +
	"Max-Forwards: 70\r\n" +
	"From: <sip:customer42@example.com>;tag=hq3Vd0aP\r\n" +
	"To: <sip:agent@127.0.0.1>\r\n" +
	"Call-ID: 5b0c1d2e3f4a5b6c7d8e9f00\r\n" +
	"CSeq: 1 INVITE\r\n" +
	"Contact: <sip:edgebox@127.0.0.1:5070;transport=udp>\r\n" +
	"User-Agent: edgebox\r\n" +
	"X-Customer-Id: 42\r\n" +
	"X-Page: /billing\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 182\r\n\r\n" +
	"v=0\r\no=edgebox 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 20000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n")

// BenchmarkSIPParseInvite is sipgo parsing the gateway's INVITE.
func BenchmarkSIPParseInvite(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(invite)))
	for i := 0; i < b.N; i++ {
		m, err := sip.ParseMessage(invite)
		if err != nil || m == nil {
			b.Fatal(err)
		}
	}
}

// atLines are typical modem answers and URCs, one op parses them all.
var atLines = []struct {
	kind, text string
}{
	{"creg", "+CEREG: 2,1,\"1A2B\",\"01C3D04\",7"},
	{"csq", "+CSQ: 18,99"},
	{"cops", "+COPS: 0,0,\"Telekom.de\",7"},
	{"qcsq", "+QCSQ: \"LTE\",-61,-88,165,-9"},
	{"cpin", "+CPIN: READY"},
	{"final", "OK"},
}

// BenchmarkATParse parses one line of each kind per op.
func BenchmarkATParse(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for _, l := range atLines {
			rest := l.text
			if j := bytes.IndexByte([]byte(l.text), ':'); j >= 0 {
				rest = l.text[j+1:]
			}
			var err error
			switch l.kind {
			case "creg":
				_, err = modem.ParseCREGLine(l.text)
			case "csq":
				_, _, err = modem.ParseCSQ(rest)
			case "cops":
				_, _, err = modem.ParseCOPS(rest)
			case "qcsq":
				_, err = modem.ParseQCSQ(rest)
			case "cpin":
				_, err = modem.ParseCPIN(rest)
			case "final":
				var final bool
				final, err = modem.FinalResult(l.text)
				if !final {
					b.Fatal("OK not final")
				}
			}
			if err != nil {
				b.Fatalf("%s %q: %v", l.kind, l.text, err)
			}
		}
	}
}
