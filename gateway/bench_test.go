package gateway

import (
	"encoding/binary"
	"net"
	"testing"
	"time"
)

// BenchmarkRelayToPBX is the steady-state relay path from the browser leg
// to the PBX: header check, payload type mapping, SSRC/sequence rewrite,
// statistics and the UDP send. It must not allocate.
func BenchmarkRelayToPBX(b *testing.B) {
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	defer sink.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sink.ReadFromUDP(buf); err != nil {
				return
			}
		}
	}()
	pt := newPTMap()
	pt[0] = 0
	s := &pbxSender{conn: a, remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(), ssrc: 1, pt: pt, tePT: -1, stats: &streamStats{}}
	in := &streamStats{clock: 8000}
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		seq, ts := rtpSeqTS(pkt)
		in.countReceived(len(pkt), seq, ts, time.Now())
		if err := s.relay(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRelayFromPBXRewrite is the box's own work on a PBX packet before
// pion sends it: source check, header check, payload type mapping and
// statistics.
func BenchmarkRelayFromPBXRewrite(b *testing.B) {
	pt := newPTMap()
	pt[0] = 0
	var st streamStats
	st.clock = 8000
	pkt := make([]byte, 12+160)
	pkt[0] = 0x80
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		if browserRewrite(pkt, &pt) < 0 {
			b.Fatal("dropped")
		}
		seq, ts := rtpSeqTS(pkt)
		st.countReceived(len(pkt), seq, ts, time.Now())
	}
}

// TestRelayDoesNotAllocate runs the relay benchmarks, the box's own code
// and pion's part of the browser leg with the box's settings, and wants no
// allocation per packet in steady state.
func TestRelayDoesNotAllocate(t *testing.T) {
	for name, bench := range map[string]func(*testing.B){
		"relay to PBX":             BenchmarkRelayToPBX,
		"relay from PBX":           BenchmarkRelayFromPBXRewrite,
		"browser leg write (pion)": BenchmarkBrowserLegWrite,
		"browser leg read (pion)":  BenchmarkBrowserLegRead,
	} {
		res := testing.Benchmark(bench)
		if res.N == 0 {
			t.Errorf("%s: benchmark failed", name)
			continue
		}
		if a := res.AllocsPerOp(); a != 0 {
			t.Errorf("%s: %d allocs/op over %d packets, want 0", name, a, res.N)
		}
		t.Logf("%s: %v", name, res.String()+" "+res.MemString())
	}
}
