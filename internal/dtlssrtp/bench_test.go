package dtlssrtp

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
)

// BenchmarkFastPath is one RTP packet through the fast path, over real
// loopback sockets: sealed into a batch by one session, sent with
// sendmmsg 32 at a time, received by a group's reader (recvmmsg),
// decrypted in place and handed to the session's handler.
func BenchmarkFastPath(b *testing.B) {
	p := handshakeGroup(b, dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM, 2)
	ck, sk := p.keys(b)
	cs, _ := p.client.NewSession(p.serverAddr, ck)
	ss, _ := p.server.NewSession(p.clientAddr, sk)
	var got atomic.Int64
	ss.Receive(0x1234, func([]byte) { got.Add(1) })
	batch := udpbatch.New(32, 1600)
	pkt := rtpPacket(0x1234, 0, make([]byte, 160))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		enc, to, err := cs.Seal(batch.Slot(), pkt)
		if err != nil {
			b.Fatal(err)
		}
		batch.Add(len(enc), to)
		if batch.N == batch.Cap() {
			p.client.Send(batch)
			// stay within the socket buffer: let the reader catch up
			for got.Load() < int64(i+1)-64 {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}
	p.client.Send(batch)
	for deadline := time.Now().Add(5 * time.Second); got.Load() < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if lost := int64(b.N) - got.Load(); lost > 0 {
		b.Fatalf("%d of %d packets lost", lost, b.N)
	}
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	res := testing.Benchmark(BenchmarkFastPath)
	if res.N == 0 {
		t.Fatal("benchmark failed")
	}
	// a handful of allocations per run (set-up, timers) spread over
	// thousands of packets round to 0; one per packet would not
	if a := res.AllocsPerOp(); a != 0 {
		t.Fatalf("%d allocs per packet over %d packets", a, res.N)
	}
	t.Logf("%v %v", res.String(), res.MemString())
}

// BenchmarkLeanAccept sets up lean calls' DTLS over one shared port and
// keeps them open: it reports the goroutines per established call of
// both ends, each a pion dtls.Conn (3 each: handshake loop, reader and
// pion's netctx reader; the PeerConnection path has about 19 on the box,
// issue 17). ns/op and B/op include the client's half of each handshake.
func BenchmarkLeanAccept(b *testing.B) {
	server := listen(b, 2)
	drainSlow(server)
	boxCert, _ := selfsign.GenerateSelfSigned()
	cliCert, _ := selfsign.GenerateSelfSigned()
	b.ReportAllocs()
	before := runtime.NumGoroutine()
	heap := liveHeap()
	for b.Loop() {
		client := listen(b, 1)
		addr := client.LocalAddr().(*net.UDPAddr).AddrPort()
		server.Expect(addr)
		done := make(chan error, 1)
		go func() {
			s, d, err := server.Accept(ctxT(b), addr, dtls.WithCertificates(boxCert),
				dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM), dtls.WithClientAuth(dtls.RequireAnyClientCert))
			if err == nil {
				b.Cleanup(func() { d.Close(); s.Close() })
			}
			done <- err
		}()
		dc, err := dtls.ClientWithOptions(client, server.LocalAddr(), dtls.WithCertificates(cliCert),
			dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM), dtls.WithInsecureSkipVerify(true))
		if err != nil {
			b.Fatal(err)
		}
		if err := dc.HandshakeContext(ctxT(b)); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { dc.Close() })
	}
	b.ReportMetric(float64(runtime.NumGoroutine()-before)/float64(b.N), "goroutines/call(both-ends)")
	b.ReportMetric(float64(liveHeap()-heap)/float64(b.N), "live-B/call(both-ends)")
}

// liveHeap is the heap in use after a collection: what established calls
// keep.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
