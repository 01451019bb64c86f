package dtlssrtp

import (
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/dtls/v3"
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
