package dtlssrtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/internal/udpbatch"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/srtp/v3"
)

// pair is a real pion/dtls handshake between two Conns on loopback.
type pair struct {
	client, server         *Conn
	dclient, dserver       *dtls.Conn
	clientAddr, serverAddr netip.AddrPort
}

// testPoller reads the sockets of polled Conns (listen with n == 0).
var testPoller = udpbatch.NewPoller(1500, nil)

// listen makes a Conn on loopback: one socket, a group of n, or (n == 0)
// one socket read by a poller.
func listen(t testing.TB, n int) *Conn {
	t.Helper()
	var c *Conn
	if n == 0 {
		sock, err := udpbatch.Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
		if err != nil {
			t.Fatal(err)
		}
		if c, err = NewConnPolled(sock, NewKeyring(), testPoller); err != nil {
			t.Fatal(err)
		}
	} else if n == 1 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c = NewConn(u, NewKeyring())
	} else {
		group, err := ListenGroup(netip.MustParseAddrPort("127.0.0.1:0"), n)
		if err != nil {
			t.Fatal(err)
		}
		c = NewConnGroup(group, NewKeyring())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func handshake(t testing.TB, suite dtls.CipherSuiteID, profile dtls.SRTPProtectionProfile) *pair {
	return handshakeGroup(t, suite, profile, 1)
}

// handshakeGroup is handshake with a server Conn of n sockets.
func handshakeGroup(t testing.TB, suite dtls.CipherSuiteID, profile dtls.SRTPProtectionProfile, n int) *pair {
	t.Helper()
	p := &pair{client: listen(t, 1), server: listen(t, n)}
	p.clientAddr = p.client.LocalAddr().(*net.UDPAddr).AddrPort()
	p.serverAddr = p.server.LocalAddr().(*net.UDPAddr).AddrPort()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	opts := func(kl *Keyring) []dtls.Option {
		return []dtls.Option{
			dtls.WithCertificates(cert),
			dtls.WithCipherSuites(suite),
			dtls.WithSRTPProtectionProfiles(profile),
			dtls.WithInsecureSkipVerify(true),
			dtls.WithExtendedMasterSecret(dtls.RequireExtendedMasterSecret),
			dtls.WithKeyLogWriter(kl),
		}
	}
	var wg sync.WaitGroup
	var serr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		var so []dtls.ServerOption
		for _, o := range opts(p.server.keys) {
			so = append(so, o)
		}
		so = append(so, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		p.dserver, serr = dtls.ServerWithOptions(p.server, net.UDPAddrFromAddrPort(p.clientAddr), so...)
		if serr == nil {
			serr = p.dserver.HandshakeContext(ctxT(t))
		}
	}()
	var co []dtls.ClientOption
	for _, o := range opts(p.client.keys) {
		co = append(co, o)
	}
	dc, err := dtls.ClientWithOptions(p.client, net.UDPAddrFromAddrPort(p.serverAddr), co...)
	if err != nil {
		t.Fatal(err)
	}
	if err := dc.HandshakeContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.dclient = dc
	wg.Wait()
	if serr != nil {
		t.Fatal(serr)
	}
	t.Cleanup(func() { p.dclient.Close(); p.dserver.Close() })
	return p
}

// keys are the session keys both ends learned from the handshake.
func (p *pair) keys(t testing.TB) (client, server Keys) {
	t.Helper()
	client, err := p.client.keys.KeysFor(p.serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	server, err = p.server.keys.KeysFor(p.clientAddr)
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// exported is what pion's DTLSTransport derives from the dtls.Conn.
func exported(t *testing.T, c *dtls.Conn, isClient bool) srtp.SessionKeys {
	t.Helper()
	st, ok := c.ConnectionState()
	if !ok {
		t.Fatal("no connection state")
	}
	prof, _ := c.SelectedSRTPProtectionProfile()
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(prof)}
	if err := cfg.ExtractSessionKeysFromDTLS(&st, isClient); err != nil {
		t.Fatal(err)
	}
	return cfg.Keys
}

func TestKeysMatchDTLSExporter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		suite   dtls.CipherSuiteID
		profile dtls.SRTPProtectionProfile
	}{
		{"gcm-sha256", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM},
		{"cm-sha256", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
		{"gcm256-sha384", dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AEAD_AES_256_GCM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := handshake(t, tc.suite, tc.profile)
			for _, side := range []struct {
				conn     *Conn
				d        *dtls.Conn
				peer     netip.AddrPort
				isClient bool
			}{{p.client, p.dclient, p.serverAddr, true}, {p.server, p.dserver, p.clientAddr, false}} {
				want := exported(t, side.d, side.isClient)
				// the wrong role is refused; the handshake showed the right one
				if _, err := side.conn.keys.Keys(side.peer, !side.isClient); err == nil {
					t.Fatal("keys handed out for the wrong DTLS role")
				}
				got, err := side.conn.keys.KeysFor(side.peer)
				if err != nil {
					t.Fatal(err)
				}
				if got.Profile != srtp.ProtectionProfile(tc.profile) ||
					!bytes.Equal(got.LocalKey, want.LocalMasterKey) || !bytes.Equal(got.LocalSalt, want.LocalMasterSalt) ||
					!bytes.Equal(got.RemoteKey, want.RemoteMasterKey) || !bytes.Equal(got.RemoteSalt, want.RemoteMasterSalt) {
					t.Fatalf("client=%v: keys differ from the DTLS exporter:\n got %+v\nwant %+v", side.isClient, got, want)
				}
				// taken once: the handshake is forgotten
				if _, err := side.conn.keys.Keys(side.peer, side.isClient); err == nil {
					t.Fatal("keys handed out twice")
				}
			}
		})
	}
}

func TestKeysNeedTheWholeHandshake(t *testing.T) {
	k := NewKeyring()
	peer := netip.MustParseAddrPort("192.0.2.1:5000")
	if _, err := k.Keys(peer, false); err == nil {
		t.Fatal("keys without a handshake")
	}
	// garbage neither panics nor creates keys
	for _, b := range [][]byte{{22}, {22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200}, bytes.Repeat([]byte{22}, 40)} {
		k.observe(peer, b, false)
	}
	k.Write([]byte("CLIENT_RANDOM zz 00\nSERVER_HANDSHAKE_TRAFFIC_SECRET 00 00\n"))
	if _, err := k.Keys(peer, false); err == nil {
		t.Fatal("keys from garbage")
	}
}

// record is one DTLS handshake record (epoch 0) carrying a fragment of a
// handshake message of type mt and total length mlen.
func record(mt byte, mlen, off int, frag []byte) []byte {
	r := []byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(r[11:], uint16(12+len(frag)))
	h := []byte{mt, byte(mlen >> 16), byte(mlen >> 8), byte(mlen), 0, 0,
		byte(off >> 16), byte(off >> 8), byte(off), byte(len(frag) >> 16), byte(len(frag) >> 8), byte(len(frag))}
	return append(append(r, h...), frag...)
}

// A browser's ClientHello with a post-quantum key share spans several
// datagrams: its first fragment carries the random, which is enough.
func TestFragmentedClientHello(t *testing.T) {
	k := NewKeyring()
	peer := netip.MustParseAddrPort("192.0.2.1:5000")
	hello := make([]byte, 1500)
	hello[0], hello[1] = 0xfe, 0xfd
	for i := range 32 {
		hello[2+i] = byte(i + 1)
	}
	k.observe(peer, record(1, len(hello), 0, hello[:1000]), false)
	k.observe(peer, record(1, len(hello), 1000, hello[1000:]), false)
	h := k.hellos[peer]
	if h == nil || !h.haveClient || h.client[0] != 1 || h.client[31] != 32 || h.weClient {
		t.Fatalf("client hello not learnt from its first fragment: %+v", h)
	}
	// a fragmented ServerHello is not followed
	sh := make([]byte, 80)
	k.observe(peer, record(2, len(sh), 0, sh[:40]), true)
	if k.hellos[peer].haveServer {
		t.Fatal("server hello taken from a fragment")
	}
}

// rtpPacket is a plain RTP packet with ssrc and seq.
func rtpPacket(ssrc uint32, seq uint16, payload []byte) []byte {
	b := make([]byte, 12, 12+len(payload)+32)
	b[0], b[1] = 0x80, 0
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return append(b, payload...)
}

func TestSessionsCarryRTPBesideDTLS(t *testing.T) {
	for _, n := range []int{1, 3, 0} {
		name := fmt.Sprintf("sockets=%d", n)
		if n == 0 {
			name = "polled"
		}
		t.Run(name, func(t *testing.T) { sessionsCarryRTP(t, n) })
	}
}

func sessionsCarryRTP(t *testing.T, sockets int) {
	p := handshakeGroup(t, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, sockets)
	ck, err := p.client.keys.Keys(p.serverAddr, true)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := p.server.keys.Keys(p.clientAddr, false)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := p.client.NewSession(p.serverAddr, ck)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := p.server.NewSession(p.clientAddr, sk)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 16)
	ss.Receive(0x1234, func(pkt []byte) { got <- bytes.Clone(pkt) })

	// the dtls.Conn reads the server socket, as pion's mux would: a
	// packet the session claims never reaches it
	for i := range 5 {
		want := rtpPacket(0x1234, uint16(100+i), []byte("hello"))
		if _, err := cs.WriteRTP(bytes.Clone(want)); err != nil {
			t.Fatal(err)
		}
		select {
		case g := <-got:
			if !bytes.Equal(g, want) {
				t.Fatalf("got %x want %x", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("packet not delivered to the session")
		}
	}
	// batched sending (Seal + Send) from the server to the client
	cgot := make(chan []byte, 16)
	cs.Receive(0x5678, func(pkt []byte) { cgot <- bytes.Clone(pkt) })
	// (the dtls.Conn's own reader reads the client's socket, as pion's mux
	// would: a Conn of one socket has exactly one reader)
	batch := udpbatch.New(4, 1500)
	for i := range 4 {
		enc, to, err := ss.Seal(batch.Slot(), rtpPacket(0x5678, uint16(7+i), []byte("batched")))
		if err != nil {
			t.Fatal(err)
		}
		batch.Add(len(enc), to)
	}
	if err := p.server.Send(batch); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		select {
		case g := <-cgot:
			if want := rtpPacket(0x5678, uint16(7+i), []byte("batched")); !bytes.Equal(g, want) {
				t.Fatalf("batched packet %d: got %x want %x", i, g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("batched packet %d not delivered", i)
		}
	}

	// DTLS application data still flows beside the sessions
	go p.dclient.Write([]byte("still dtls"))
	buf := make([]byte, 100)
	p.dserver.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := p.dserver.Read(buf)
	if err != nil || string(buf[:n]) != "still dtls" {
		t.Fatalf("dtls beside sessions: %q %v", buf[:n], err)
	}
	if f := p.server.Fast.Load(); f != 5+4 {
		t.Fatalf("fast path handled %d packets, want 9", f)
	}

	// a replayed or forged packet is dropped and counted
	u, _ := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(p.serverAddr))
	defer u.Close()
	enc, _ := srtpEncrypt(t, ck, rtpPacket(0x1234, 100, []byte("hello")))
	// wrong source address: not the session's peer, so not claimed
	u.Write(enc)
	before := p.server.Rejected.Load()
	cs.conn.src.(oneSocket).u.WriteToUDPAddrPort(enc, p.serverAddr) // replay of seq 100 from the peer
	bad := bytes.Clone(enc)
	bad[len(bad)-1] ^= 1
	bad[3]++ // a fresh sequence number but a broken tag
	cs.conn.src.(oneSocket).u.WriteToUDPAddrPort(bad, p.serverAddr)
	testenv.Until(5*time.Second, "two packets rejected", testenv.Cond(func() bool { return p.server.Rejected.Load() >= before+2 }))
	if r := p.server.Rejected.Load() - before; r != 2 {
		t.Fatalf("rejected %d packets, want the replay and the forgery", r)
	}
	select {
	case g := <-got:
		t.Fatalf("a bad packet reached the handler: %x", g)
	default:
	}

	// after Close the peer's packets are pion's again and sends fail
	ss.Close()
	if _, err := ss.WriteRTP(rtpPacket(0x1234, 1, nil)); err == nil {
		t.Fatal("WriteRTP after Close")
	}
}

// srtpEncrypt protects pkt as the client would, with a fresh context.
func srtpEncrypt(t *testing.T, k Keys, pkt []byte) ([]byte, error) {
	ctx, err := srtp.CreateContext(k.LocalKey, k.LocalSalt, k.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return ctx.EncryptRTP(nil, pkt, nil)
}

func FuzzObserve(f *testing.F) {
	f.Add([]byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		k := NewKeyring()
		peer := netip.MustParseAddrPort("192.0.2.1:5000")
		k.observe(peer, b, false)
		k.Write(b)
		k.Keys(peer, false)
	})
}

// When ICE moves the session to another address (SetPeer), packets from
// the new address are the session's and its packets go there; the old
// address is no longer claimed.
func TestSessionFollowsPeerMove(t *testing.T) {
	p := handshakeGroup(t, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, 2)
	ck, sk := p.keys(t)
	ss, err := p.server.NewSession(p.clientAddr, sk)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 4)
	ss.Receive(0x1234, func(pkt []byte) { got <- bytes.Clone(pkt) })
	moved, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer moved.Close()
	enc, _ := srtpEncrypt(t, ck, rtpPacket(0x1234, 500, []byte("moved")))
	// from an address that is not the session's: pion's, not claimed
	before := p.server.Fast.Load()
	moved.WriteToUDPAddrPort(enc, p.serverAddr)
	time.Sleep(200 * time.Millisecond)
	if p.server.Fast.Load() != before || len(got) != 0 {
		t.Fatal("a packet from another address was taken as the session's")
	}
	ss.SetPeer(moved.LocalAddr().(*net.UDPAddr).AddrPort())
	enc2, _ := srtpEncrypt(t, ck, rtpPacket(0x1234, 501, []byte("moved")))
	moved.WriteToUDPAddrPort(enc2, p.serverAddr)
	select {
	case g := <-got:
		if !bytes.Equal(g, rtpPacket(0x1234, 501, []byte("moved"))) {
			t.Fatalf("got %x", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("packet from the new address not taken")
	}
	if _, err := ss.WriteRTP(rtpPacket(0x9999, 1, []byte("to the new address"))); err != nil {
		t.Fatal(err)
	}
	moved.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	if _, err := moved.Read(buf); err != nil {
		t.Fatalf("nothing sent to the new address: %v", err)
	}
	if _, ok := p.server.sessions.load(p.clientAddr); ok {
		t.Fatal("the old address still leads to the session")
	}
}
