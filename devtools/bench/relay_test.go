package bench

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"edgebox/internal/testenv"
)

// The relay loop alone, without pion: what one forwarded RTP packet costs
// in syscalls and wake-ups. "naive" is one goroutine reading one packet
// and writing it (read+write syscall per packet); "batch" reads up to 32
// waiting packets with one recvmmsg and forwards them with one sendmmsg.
// The window is how many packets the sender keeps in flight: w1 is sparse
// traffic (every packet wakes the relay, as one call's 50 packet/s do),
// w32 a loaded socket (the gateway's shared ICE port under many calls).
func BenchmarkRelayLoop(b *testing.B) {
	for _, batch := range []bool{false, true} {
		for _, w := range []int{1, 32} {
			name := "naive"
			if batch {
				name = "batch"
			}
			b.Run(fmt.Sprintf("%s-w%d", name, w), func(b *testing.B) { benchRelayLoop(b, batch, w) })
		}
	}
}

func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func processCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func listenLoopback(b *testing.B) *net.UDPConn {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	c.SetReadBuffer(1 << 20)
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

type relayStats struct {
	cpu      time.Duration
	syscalls uint64
}

func benchRelayLoop(b *testing.B, batch bool, window int) {
	src, in, out, sink := listenLoopback(b), listenLoopback(b), listenLoopback(b), listenLoopback(b)
	defer src.Close()
	defer out.Close()
	defer sink.Close()
	inAddr, sinkAddr := addrOf(in), addrOf(sink)

	var received atomic.Int64
	// the sender keeps at most window packets in flight; blocking on a
	// channel (not spinning) leaves the scheduler free to poll the network
	inflight := make(chan struct{}, window)
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		buf := make([]byte, 1500)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
			received.Add(1)
			select {
			case <-inflight:
			default:
			}
		}
	}()
	done := make(chan relayStats, 1)
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(ready)
		t0 := threadCPU()
		var st relayStats
		if batch {
			st.syscalls = relayBatch(in, out, sinkAddr)
		} else {
			st.syscalls = relayNaive(in, out, sinkAddr)
		}
		st.cpu = threadCPU() - t0
		done <- st
	}()
	<-ready
	pkt := make([]byte, 12+160+16) // SRTP-sized G.711 packet
	pkt[0] = 0x80
	b.ReportAllocs()
	b.ResetTimer()
	p0 := processCPU()
	lost := time.NewTimer(time.Second)
	defer lost.Stop()
	for i := 0; i < b.N; i++ {
		select {
		case inflight <- struct{}{}:
		case <-lost.C:
			// a packet went missing: free its slot rather than stall
			<-inflight
			inflight <- struct{}{}
		}
		lost.Reset(time.Second)
		if _, err := src.WriteToUDPAddrPort(pkt, inAddr); err != nil {
			b.Fatal(err)
		}
	}
	testenv.UntilEvery(5*time.Second, 100*time.Microsecond, "all packets relayed", testenv.Cond(func() bool { return received.Load() >= int64(b.N) }))
	b.StopTimer()
	pcpu := processCPU() - p0
	in.Close()
	st := <-done
	sink.Close()
	<-sinkDone
	n := float64(b.N)
	b.ReportMetric(float64(st.cpu.Nanoseconds())/n, "relay-cpu-ns/pkt")
	b.ReportMetric(float64(pcpu.Nanoseconds())/n, "cpu-ns/pkt")
	b.ReportMetric(float64(st.syscalls)/n, "syscalls/pkt")
	if lost := int64(b.N) - received.Load(); lost > 0 {
		b.ReportMetric(float64(lost)/n*100, "lost-%")
	}
}

// relayNaive forwards packet by packet until in is closed.
func relayNaive(in, out *net.UDPConn, to netip.AddrPort) (syscalls uint64) {
	buf := make([]byte, 1500)
	for {
		n, _, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			return syscalls
		}
		out.WriteToUDPAddrPort(buf[:n], to)
		syscalls += 2
	}
}

const relayBatchSize = 32

// relayBatch forwards with recvmmsg/sendmmsg; buffers and messages are
// allocated once.
func relayBatch(in, out *net.UDPConn, to netip.AddrPort) (syscalls uint64) {
	rc, wc := ipv4.NewPacketConn(in), ipv4.NewPacketConn(out)
	rmsgs := make([]ipv4.Message, relayBatchSize)
	wmsgs := make([]ipv4.Message, relayBatchSize)
	dst := net.UDPAddrFromAddrPort(to)
	for i := range rmsgs {
		buf := make([]byte, 1500)
		rmsgs[i].Buffers = [][]byte{buf}
		wmsgs[i].Buffers = [][]byte{nil}
		wmsgs[i].Addr = dst
	}
	for {
		n, err := rc.ReadBatch(rmsgs, 0)
		syscalls++
		if err != nil {
			return syscalls
		}
		for i := 0; i < n; i++ {
			wmsgs[i].Buffers[0] = rmsgs[i].Buffers[0][:rmsgs[i].N]
		}
		for sent := 0; sent < n; {
			k, err := wc.WriteBatch(wmsgs[sent:n], 0)
			syscalls++
			if err != nil {
				break
			}
			sent += k
		}
	}
}
