package dtlssrtp

import (
	"crypto/rand"
	"fmt"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/srtp/v3"
)

// BenchmarkColdSessions is one packet sealed by one session and opened by
// its peer's (the reader's address lookup, SRTP decryption, the handler)
// for many sessions in turn, without sockets: with a thousand sessions
// their SRTP contexts and the lookup's entries are cold in the cache at
// every packet, as in the gateway at 1000 calls, where a one-session
// benchmark keeps them warm. ns/op is one seal plus one open.
func BenchmarkColdSessions(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) { benchColdSessions(b, n) })
	}
}

func benchColdSessions(b *testing.B, n int) {
	client, server := listen(b, 1), listen(b, 1)
	senders := make([]*Session, n)
	from := make([]netip.AddrPort, n)
	pkts := make([][]byte, n)
	got := 0
	for i := range n {
		ck, sk := randomKeys(b)
		from[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), uint16(10000+i))
		cs, err := client.NewSession(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 5000), ck)
		if err != nil {
			b.Fatal(err)
		}
		ss, err := server.NewSession(from[i], sk)
		if err != nil {
			b.Fatal(err)
		}
		ssrc := uint32(0x1000 + i)
		ss.ReceiveBatched(ssrc, func([]byte, *udpbatch.Multi, time.Time) { got++ })
		senders[i] = cs
		pkts[i] = rtpPacket(ssrc, 0, make([]byte, 160))
	}
	buf := make([]byte, 1500)
	// the thread's own CPU time, which other processes on the machine
	// do not inflate as they do the wall clock's ns/op
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := threadCPU()
	for op := range b.N {
		i := op % n
		pkt := pkts[i]
		seq := uint16(op / n)
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		enc, _, err := senders[i].Seal(buf[:0], pkt)
		if err != nil {
			b.Fatal(err)
		}
		if !server.claim(enc, from[i], nil) {
			b.Fatal("packet not claimed")
		}
	}
	b.ReportMetric(float64(threadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	b.StopTimer()
	if got != b.N {
		b.Fatalf("%d of %d packets handled (%d rejected)", got, b.N, server.Rejected.Load())
	}
}

// threadCPU is the calling thread's CPU time in ns (user and system).
func threadCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// randomKeys are the two ends' keys of an AES-128-GCM session.
func randomKeys(b *testing.B) (client, server Keys) {
	k := make([]byte, 2*16+2*12)
	rand.Read(k)
	ck, sk, cs, ss := k[:16], k[16:32], k[32:44], k[44:56]
	p := srtp.ProtectionProfileAeadAes128Gcm
	return Keys{Profile: p, LocalKey: ck, LocalSalt: cs, RemoteKey: sk, RemoteSalt: ss},
		Keys{Profile: p, LocalKey: sk, LocalSalt: ss, RemoteKey: ck, RemoteSalt: cs}
}

// BenchmarkColdSessionsBothWays is the gateway's two directions at once
// on one Conn, as its two kinds of readers run them on two cores: one
// goroutine seals each session's packets toward its peer (the PBX legs'
// poller), another opens the peers' packets (the ICE port's reader).
// cpu-ns/op is the two threads' CPU per packet (two packets per op).
func BenchmarkColdSessionsBothWays(b *testing.B) {
	const n = 1000
	client, server := listen(b, 1), listen(b, 1)
	var toPeer, fromPeer []*Session
	from := make([]netip.AddrPort, n)
	inPkts, outPkts := make([][]byte, n), make([][]byte, n)
	got := 0
	for i := range n {
		ck, sk := randomKeys(b)
		from[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), uint16(10000+i))
		cs, err := client.NewSession(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 5000), ck)
		if err != nil {
			b.Fatal(err)
		}
		ss, err := server.NewSession(from[i], sk)
		if err != nil {
			b.Fatal(err)
		}
		ssrc := uint32(0x1000 + i)
		ss.ReceiveBatched(ssrc, func([]byte, *udpbatch.Multi, time.Time) { got++ })
		fromPeer, toPeer = append(fromPeer, cs), append(toPeer, ss)
		inPkts[i], outPkts[i] = rtpPacket(ssrc, 0, make([]byte, 160)), rtpPacket(ssrc+0x10000, 0, make([]byte, 160))
	}
	b.ReportAllocs()
	b.ResetTimer()
	sent := make(chan int64)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cpu0 := threadCPU()
		buf := make([]byte, 1500)
		for op := range b.N {
			i := op % n
			pkt := outPkts[i]
			seq := uint16(op / n)
			pkt[2], pkt[3] = byte(seq>>8), byte(seq)
			if _, _, err := toPeer[i].Seal(buf[:0], pkt); err != nil {
				panic(err)
			}
		}
		sent <- threadCPU() - cpu0
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	buf := make([]byte, 1500)
	for op := range b.N {
		i := op % n
		pkt := inPkts[i]
		seq := uint16(op / n)
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		enc, _, err := fromPeer[i].Seal(buf[:0], pkt)
		if err != nil {
			b.Fatal(err)
		}
		if !server.claim(enc, from[i], nil) {
			b.Fatal("packet not claimed")
		}
	}
	cpu := threadCPU() - cpu0 + <-sent
	b.ReportMetric(float64(cpu)/float64(2*b.N), "cpu-ns/pkt")
	b.StopTimer()
	if got != b.N {
		b.Fatalf("%d of %d packets handled", got, b.N)
	}
}

// BenchmarkSessionTableChange is what the copy-on-write session table
// costs a call's set-up and hang-up with 1000 other calls up: one store
// and one removal, each copying the map.
func BenchmarkSessionTableChange(b *testing.B) {
	var t sessionTable
	for i := range 1000 {
		t.store(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), 5000), &Session{})
	}
	a, s := netip.MustParseAddrPort("127.1.0.1:5000"), &Session{}
	b.ReportAllocs()
	for b.Loop() {
		t.store(a, s)
		t.compareAndDelete(a, s)
	}
}
