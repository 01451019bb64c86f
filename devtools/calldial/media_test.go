package calldial

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"edgebox/internal/dtlssrtp"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// echoPacket is a plain RTP packet with calldial's payload, marshalled
// by pion/rtp with the given header extras.
func echoPacket(t testing.TB, h rtp.Header, sentAt int64, pad byte) []byte {
	t.Helper()
	payload := make([]byte, 160)
	copy(payload, marker)
	binary.BigEndian.PutUint32(payload[4:8], 7)
	binary.BigEndian.PutUint64(payload[8:16], uint64(sentAt))
	h.Version = 2
	p := rtp.Packet{Header: h, Payload: payload}
	if pad > 0 {
		p.Header.Padding, p.Header.PaddingSize = true, pad
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEchoOf(t *testing.T) {
	plain := rtp.Header{Timestamp: 12345, SSRC: 1, SequenceNumber: 9}
	ext := rtp.Header{Timestamp: 777, SSRC: 2, CSRC: []uint32{5, 6}}
	if err := ext.SetExtension(1, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pkt  []byte
		ts   uint32
	}{
		{"plain", echoPacket(t, plain, 42, 0), 12345},
		{"csrc+extension", echoPacket(t, ext, 42, 0), 777},
		{"padding", echoPacket(t, plain, 42, 4), 12345},
	} {
		ts, at, ok := echoOf(tc.pkt)
		if !ok || ts != tc.ts || at != 42 {
			t.Errorf("%s: ts %d sent %d ok %v, want %d 42 true", tc.name, ts, at, ok, tc.ts)
		}
	}
	good := echoPacket(t, plain, 42, 0)
	notOurs := bytes.Clone(good)
	notOurs[12] = 'X'
	badPad := echoPacket(t, plain, 42, 4)
	badPad[len(badPad)-1] = 200
	for name, b := range map[string][]byte{
		"empty": nil, "short": good[:11], "version 1": append([]byte{0x40}, good[1:]...),
		"no marker": notOurs, "payload too short": good[:12+payloadHead-1],
		"padding beyond the payload": badPad, "extension beyond the packet": append([]byte{0x90}, good[1:13]...),
	} {
		if _, _, ok := echoOf(b); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzEchoOf(f *testing.F) {
	ext := rtp.Header{CSRC: []uint32{5}}
	ext.SetExtension(1, []byte{1, 2})
	f.Add(echoPacket(f, rtp.Header{}, 1, 0))
	f.Add(echoPacket(f, ext, 1, 3))
	f.Add([]byte{0xbf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, at, ok := echoOf(b)
		if !ok {
			return
		}
		// what echoOf found agrees with pion's parser
		var p rtp.Packet
		if err := p.Unmarshal(bytes.Clone(b)); err != nil {
			return // pion is stricter about padding on some inputs
		}
		if p.Timestamp != ts || len(p.Payload) < payloadHead || !bytes.Equal(p.Payload[:4], marker) ||
			int64(binary.BigEndian.Uint64(p.Payload[8:16])) != at {
			t.Fatalf("echoOf %d %d disagrees with pion's %+v", ts, at, p.Header)
		}
	})
}

func TestSeqWatch(t *testing.T) {
	var w seqWatch
	if w.settled() {
		t.Fatal("settled before any packet")
	}
	w.see(0xfff0)
	if w.settled() {
		t.Fatal("settled just before a wrap")
	}
	for _, s := range []uint16{0xfffe, 0xfffd, 0xffff, 0, 1} { // a reordered packet does not count
		w.see(s)
	}
	if w.roc != 1 || !w.settled() {
		t.Fatalf("roc %d settled %v after a wrap, want 1 true", w.roc, w.settled())
	}
	w.see(0x8000)
	w.see(0x0001) // a jump of exactly half is not a wrap
	if w.roc != 1 {
		t.Fatalf("roc %d", w.roc)
	}
}

// fastLoop is a mediaStream sending through a dtlssrtp session to a
// second socket whose session hands the packets back to the stream's
// own echo accounting: the fast path's send and receive sides without
// pion or the gateway.
func fastLoop(t testing.TB) *mediaStream {
	t.Helper()
	open := func() *dtlssrtp.Conn {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c := dtlssrtp.NewConn(u, dtlssrtp.NewKeyring())
		done := make(chan struct{})
		go func() { // the mux's reader: packets no session claims are dropped
			defer close(done)
			buf := make([]byte, 1500)
			for {
				if _, _, err := c.ReadFromAddrPort(buf); err != nil {
					return
				}
			}
		}()
		t.Cleanup(func() { c.Close(); <-done })
		return c
	}
	a, b := open(), open()
	addr := func(c *dtlssrtp.Conn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	k1, s1 := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 12)
	k2, s2 := bytes.Repeat([]byte{3}, 16), bytes.Repeat([]byte{4}, 12)
	sa, err := a.NewSession(addr(b), dtlssrtp.Keys{Profile: srtp.ProtectionProfileAeadAes128Gcm, LocalKey: k1, LocalSalt: s1, RemoteKey: k2, RemoteSalt: s2})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.NewSession(addr(a), dtlssrtp.Keys{Profile: srtp.ProtectionProfileAeadAes128Gcm, LocalKey: k2, LocalSalt: s2, RemoteKey: k1, RemoteSalt: s1})
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := codecOf("pcmu")
	m := newMediaStream(nil, cs, &totals{})
	// start just before a wrap: the send side's rollover counter is
	// carried across it
	m.pkt.SequenceNumber = 0xfff0
	sb.Receive(0x5eed, m.onFastEcho)
	m.fast.Store(&fastPath{s: sa, ssrc: 0x5eed, pt: 0})
	return m
}

// sendAndWait sends one packet and waits for its echo to be accounted.
// It spins by hand rather than through testenv.WaitFor: TestFastPathNoAllocs
// counts the mallocs around it, and WaitFor's closure and timers allocate.
func sendAndWait(t testing.TB, m *mediaStream) {
	want := m.all.received.Load() + 1
	m.sendOne(time.Now(), nil)
	deadline := time.Now().Add(5 * time.Second)
	for m.all.received.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("packet %d not received on the fast path", m.n)
		}
		runtime.Gosched()
	}
}

// TestFastPathNoAllocs: sending through the session (marshal, encrypt,
// send) and receiving (decrypt in place on the socket reader, parse,
// account) allocate nothing per packet.
func TestFastPathNoAllocs(t *testing.T) {
	m := fastLoop(t)
	for range 20 { // past the wrap, caches warm
		sendAndWait(t, m)
	}
	// testing.AllocsPerRun would run on one P, where the spinning waiter
	// starves the socket reader: count the mallocs directly
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 501 {
		sendAndWait(t, m)
	}
	runtime.ReadMemStats(&after)
	allocs := float64(after.Mallocs-before.Mallocs) / 501
	r := m.result()
	if r.Sent != 521 || r.Received != 521 || r.FastSent != 521 || r.FastReceived != 521 || m.roc != 1 {
		t.Fatalf("sent %d received %d (fast %d/%d) roc %d, want 521 each across one wrap", r.Sent, r.Received, r.FastSent, r.FastReceived, m.roc)
	}
	if r.RTTMeanMS <= 0 {
		t.Errorf("round trip %v", r.RTTMeanMS)
	}
	if allocs >= 1 {
		t.Errorf("%.1f allocations per packet sent and received, want 0", allocs)
	}
}

// BenchmarkFastPathPacket is one packet's round through the fast path:
// send side and receive side, one loopback hop.
func BenchmarkFastPathPacket(b *testing.B) {
	m := fastLoop(b)
	b.ReportAllocs()
	for b.Loop() {
		sendAndWait(b, m)
	}
}
