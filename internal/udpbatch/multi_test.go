package udpbatch

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sockets binds n Sockets on addr, closed with the test.
func sockets(t testing.TB, n int, addr string) []*Socket {
	t.Helper()
	var out []*Socket
	for range n {
		s, err := Listen(netip.MustParseAddrPort(addr), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// Datagrams queued from many sockets arrive, each from its own socket's
// port with its own content, through io_uring where the kernel has it
// (and through sendto where not), from IPv4 and dual-stack sockets, also
// when more are queued than the Multi has slots.
func TestMultiSendsFromEachSocket(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp", "[::]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
			socks := sockets(t, 20, tc.addr)
			m := NewMulti(8, 1500)
			defer m.Close()
			t.Logf("batched: %v", m.Batched())
			want := map[string]uint16{}
			for round := range 2 {
				for i, s := range socks {
					p := fmt.Sprintf("round %d socket %d", round, i)
					want[p] = s.LocalAddr().Port()
					if err := m.Add(s, []byte(p), to); err != nil {
						t.Fatal(err)
					}
				}
			}
			m.Flush()
			if m.Batched() && (m.Sent != 40 || m.Dropped != 0) {
				t.Fatalf("sent %d dropped %d, want 40 and 0", m.Sent, m.Dropped)
			}
			sink.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			for len(want) > 0 {
				n, from, err := sink.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatalf("%d datagrams missing: %v", len(want), err)
				}
				port, ok := want[string(buf[:n])]
				if !ok {
					t.Fatalf("unexpected or repeated datagram %q", buf[:n])
				}
				if from.Port() != port {
					t.Fatalf("%q came from port %d, want %d", buf[:n], from.Port(), port)
				}
				delete(want, string(buf[:n]))
			}
		})
	}
}

// A socket closed while its datagram waits in a batch closes once the
// batch is flushed; the batch may take another datagram of the same
// socket meanwhile without deadlocking against the waiting Close.
func TestMultiCloseWaitsForFlush(t *testing.T) {
	m := NewMulti(8, 1500)
	defer m.Close()
	if !m.Batched() {
		t.Skip("no io_uring here: Add sends at once")
	}
	s := sockets(t, 1, "127.0.0.1:0")[0]
	to := netip.MustParseAddrPort("127.0.0.1:9") // discard; nothing listens
	if err := m.Add(s, []byte("a"), to); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("the socket closed with a datagram of it queued")
	case <-time.After(100 * time.Millisecond):
	}
	if err := m.Add(s, []byte("b"), to); err != nil {
		t.Fatal(err)
	}
	m.Flush()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close still waits after the flush")
	}
	if err := m.Add(s, []byte("c"), to); err == nil {
		t.Fatal("Add on a closed socket succeeded")
	}
}

func TestMultiDoesNotAllocate(t *testing.T) {
	socks := sockets(t, 4, "127.0.0.1:0")
	to := netip.MustParseAddrPort("127.0.0.1:9")
	m := NewMulti(8, 1500)
	defer m.Close()
	p := make([]byte, 172)
	allocs := testing.AllocsPerRun(200, func() {
		for _, s := range socks {
			m.Add(s, p, to)
		}
		m.Flush()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round", allocs)
	}
}

// BenchmarkSendManySockets: one 172-byte datagram (G.711 RTP) from each
// of 64 sockets per round, as a relay sends toward a PBX per receive
// batch: a sendto each, or one io_uring submission; and for scale the
// same datagrams from one socket with one sendmmsg. cpu-ns/pkt is the
// process's CPU (user+system, the sink's draining included) per datagram.
func BenchmarkSendManySockets(b *testing.B) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	sink.SetReadBuffer(8 << 20)
	go func() { // drain, so that the sink's buffer never fills
		in := New(64, 1500)
		rc, _ := sink.SyscallConn()
		for in.Recv(rc) == nil {
		}
	}()
	to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	socks := sockets(b, 64, "127.0.0.1:0")
	p := make([]byte, 172)
	cpu := func(b *testing.B, run func()) {
		var r0, r1 unix.Rusage
		unix.Getrusage(unix.RUSAGE_SELF, &r0)
		b.ResetTimer()
		run()
		b.StopTimer()
		unix.Getrusage(unix.RUSAGE_SELF, &r1)
		ns := func(r unix.Rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
		b.ReportMetric(float64(ns(r1)-ns(r0))/float64(b.N), "cpu-ns/pkt")
	}
	b.Run("sendto", func(b *testing.B) {
		cpu(b, func() {
			for i := 0; i < b.N; i++ {
				socks[i%len(socks)].WriteToUDPAddrPort(p, to)
			}
		})
	})
	b.Run("io_uring", func(b *testing.B) {
		m := NewMulti(64, 1500)
		defer m.Close()
		if !m.Batched() {
			b.Skip("no io_uring")
		}
		cpu(b, func() {
			for i := 0; i < b.N; i++ {
				m.Add(socks[i%len(socks)], p, to)
				if i%len(socks) == len(socks)-1 {
					m.Flush()
				}
			}
			m.Flush()
		})
	})
	b.Run("sendmmsg-one-socket", func(b *testing.B) {
		out := New(64, 1500)
		rc, _ := socks[0].SyscallConn()
		cpu(b, func() {
			for i := 0; i < b.N; i++ {
				out.Add(copy(out.Slot()[:len(p)], p), to)
				if out.Slot() == nil {
					out.Send(rc)
				}
			}
			out.Send(rc)
		})
	})
}
