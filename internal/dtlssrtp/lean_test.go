package dtlssrtp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	dtlsnet "github.com/pion/dtls/v3/pkg/net"
	"github.com/pion/srtp/v3"
)

// A lean call end to end with no PeerConnection on the box's side: the
// browser's stack (pion/ice, controlling; pion/dtls client over the ICE
// connection) meets Lite's connectivity checks and Accept's handshake on
// the shared port, and SRTP flows both ways through the Session.
func TestLeanCallWithoutPeerConnection(t *testing.T) {
	for _, n := range []int{1, 2, 0} {
		t.Run(fmt.Sprintf("sockets=%d", n), func(t *testing.T) {
			c := listen(t, n)
			drainSlow(c)
			l := &Lite{}
			c.SetLite(l)
			ic, _ := dialLite(t, c, l)
			browser := ic.LocalAddr().(*net.UDPAddr).AddrPort()

			bcert, err := selfsign.GenerateSelfSigned()
			if err != nil {
				t.Fatal(err)
			}
			boxCert, err := selfsign.GenerateSelfSigned()
			if err != nil {
				t.Fatal(err)
			}
			// the fingerprint the browser's offer carries
			want := sha256.Sum256(bcert.Certificate[0])
			type result struct {
				s   *Session
				d   *dtls.Conn
				err error
			}
			done := make(chan result, 1)
			go func() {
				s, d, err := c.Accept(ctxT(t), browser,
					dtls.WithCertificates(boxCert),
					dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
					dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
					dtls.WithClientAuth(dtls.RequireAnyClientCert),
					dtls.WithVerifyPeerCertificate(func(raw [][]byte, _ [][]*x509.Certificate) error {
						if len(raw) == 0 || sha256.Sum256(raw[0]) != want {
							return errors.New("certificate does not match the offer's fingerprint")
						}
						return nil
					}))
				done <- result{s, d, err}
			}()
			// the browser's own demultiplexing: DTLS to its dtls.Conn, SRTP here
			media := make(chan []byte, 16)
			dc, err := dtls.ClientWithOptions(&browserDemux{PacketConn: dtlsnet.PacketConnFromConn(ic), media: media}, ic.RemoteAddr(),
				dtls.WithCertificates(bcert),
				dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
				dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
				dtls.WithInsecureSkipVerify(true))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dc.Close() })
			if err := dc.HandshakeContext(ctxT(t)); err != nil {
				t.Fatalf("browser's handshake: %v", err)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("box's handshake: %v", r.err)
			}
			t.Cleanup(func() { r.d.Close(); r.s.Close() })

			keys := exported(t, dc, true)
			out, err := srtp.CreateContext(keys.LocalMasterKey, keys.LocalMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
			if err != nil {
				t.Fatal(err)
			}
			in, err := srtp.CreateContext(keys.RemoteMasterKey, keys.RemoteMasterSalt, srtp.ProtectionProfileAeadAes128Gcm)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte, 4)
			gotRTCP := make(chan []byte, 4)
			// a lean call learns the browser's SSRC from its packets
			r.s.ReceiveAny(func(pkt []byte) { got <- bytes.Clone(pkt) })
			r.s.ReceiveRTCP(func(pkt []byte) { gotRTCP <- bytes.Clone(pkt) })
			sent := rtpPacket(0x1234, 10, []byte("hello box"))
			enc, err := out.EncryptRTP(nil, sent, nil)
			if err != nil {
				t.Fatal(err)
			}
			// ICE gives the browser no delivery promise: resend until taken
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(30 * time.Second)
			for received := false; !received; {
				if _, err := ic.Write(enc); err != nil {
					t.Fatal(err)
				}
				select {
				case g := <-got:
					if !bytes.Equal(g, sent) {
						t.Fatalf("box got %x, want %x", g, sent)
					}
					received = true
				case <-tick.C:
				case <-deadline:
					t.Fatal("the browser's SRTP did not reach the session")
				}
			}
			if _, err := r.s.WriteRTP(rtpPacket(0x9999, 1, []byte("hello browser"))); err != nil {
				t.Fatal(err)
			}
			select {
			case pkt := <-media:
				plain, err := in.DecryptRTP(nil, pkt, nil)
				if err != nil {
					t.Fatalf("box's SRTP: %v", err)
				}
				if !bytes.HasSuffix(plain, []byte("hello browser")) {
					t.Fatalf("browser got %q", plain)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("nothing from the box")
			}
			leanRTCP(t, r.s, ic, out, in, gotRTCP, media)

			// the handshake's goroutines end, quietly: no close_notify
			c.Forget(browser, r.d)
			if _, ok := c.dtlsPeers.Load(browser); ok {
				t.Error("the forgotten peer's records still go to the handshake")
			}
			select {
			case pkt := <-media:
				t.Errorf("the browser got %x after Forget", pkt)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

// leanRTCP sends a receiver report each way: the browser's is
// authenticated, decrypted and handed to ReceiveRTCP's handler; the box's
// (WriteRTCP) decrypts with the browser's keys.
func leanRTCP(t *testing.T, s *Session, ic net.Conn, out, in *srtp.Context, got, media chan []byte) {
	t.Helper()
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0x12, 0x34} // RR, no blocks, SSRC 0x1234
	enc, err := out.EncryptRTCP(nil, rr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Write(enc); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if !bytes.Equal(g, rr) {
			t.Fatalf("box got RTCP %x, want %x", g, rr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the browser's SRTCP did not reach the session")
	}
	boxRR := []byte{0x80, 201, 0, 1, 0, 0, 0x99, 0x99}
	if _, err := s.WriteRTCP(boxRR); err != nil {
		t.Fatal(err)
	}
	select {
	case pkt := <-media:
		plain, err := in.DecryptRTCP(nil, pkt, nil)
		if err != nil || !bytes.Equal(plain, boxRR) {
			t.Fatalf("browser got RTCP %x (%v), want %x", plain, err, boxRR)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no RTCP from the box")
	}
}

// A browser whose certificate is not the one its offer announced is
// refused, and its records stop going to the lean handshake.
func TestLeanAcceptChecksFingerprint(t *testing.T) {
	server := listen(t, 2)
	client := listen(t, 1)
	clientAddr := client.LocalAddr().(*net.UDPAddr).AddrPort()
	boxCert, _ := selfsign.GenerateSelfSigned()
	bcert, _ := selfsign.GenerateSelfSigned()
	done := make(chan error, 1)
	go func() {
		_, _, err := server.Accept(ctxT(t), clientAddr,
			dtls.WithCertificates(boxCert),
			dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
			dtls.WithClientAuth(dtls.RequireAnyClientCert),
			dtls.WithVerifyPeerCertificate(func([][]byte, [][]*x509.Certificate) error {
				return errors.New("certificate does not match the offer's fingerprint")
			}))
		done <- err
	}()
	dc, err := dtls.ClientWithOptions(client, server.LocalAddr(),
		dtls.WithCertificates(bcert), dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM),
		dtls.WithInsecureSkipVerify(true))
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc.HandshakeContext(ctx) // fails on the box's alert or times out
	if err := <-done; err == nil {
		t.Fatal("a browser with another certificate was accepted")
	}
	if _, ok := server.dtlsPeers.Load(clientAddr); ok {
		t.Fatal("the refused peer's records still go to the lean handshake")
	}
}

// drainSlow reads what the Conn leaves to pion, as pion's mux would.
func drainSlow(c *Conn) {
	go func() {
		b := make([]byte, 1500)
		for {
			if _, _, err := c.ReadFromAddrPort(b); err != nil {
				return
			}
		}
	}()
}

// browserDemux passes DTLS records to the browser's dtls.Conn and keeps
// SRTP for the test, as a browser demultiplexes its ICE connection.
type browserDemux struct {
	net.PacketConn
	media chan []byte
}

func (d *browserDemux) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := d.PacketConn.ReadFrom(b)
		if err != nil || n == 0 || b[0] < 128 || b[0] > 191 {
			return n, from, err
		}
		select {
		case d.media <- bytes.Clone(b[:n]):
		default:
		}
	}
}

// A browser's first DTLS record can arrive before Accept runs: after
// Expect it is kept for the handshake, not handed to pion.
func TestExpectKeepsEarlyRecords(t *testing.T) {
	c := listen(t, 1)
	peer := netip.MustParseAddrPort("127.0.0.1:9")
	hello := []byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if c.claim(bytes.Clone(hello), peer, nil) {
		t.Fatal("a record of a peer nobody expects was claimed")
	}
	c.Expect(peer)
	if !c.claim(bytes.Clone(hello), peer, nil) {
		t.Fatal("an expected peer's record went to pion")
	}
	v, _ := c.dtlsPeers.Load(peer)
	if got := <-v.(*peerConn).in; !bytes.Equal(got, hello) {
		t.Fatalf("kept %x", got)
	}
}
