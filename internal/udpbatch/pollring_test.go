package udpbatch

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pollModes runs f with a Poller reading through io_uring (skipped where
// the kernel has none) and with its recvfrom fallback.
func pollModes(t *testing.T, f func(t *testing.T, p *Poller)) {
	for _, ring := range []bool{true, false} {
		name := map[bool]string{true: "io_uring", false: "recvfrom"}[ring]
		t.Run(name, func(t *testing.T) {
			p := NewPoller(1500, nil)
			p.noRing = !ring
			if ring {
				if r := newRecvRing(4, 64); r == nil {
					t.Skip("no io_uring here (or $EDGEBOX_NO_IO_URING*)")
				} else {
					r.close()
				}
			}
			f(t, p)
			if got := p.Batched(); got != ring && len(p.socks) > 0 {
				t.Errorf("Batched() = %v with ring %v", got, ring)
			}
		})
	}
}

// collector gathers what each socket's callback got.
type collector struct {
	mu  sync.Mutex
	got map[int][]polledPacket
}

func (c *collector) on(i int) func([]byte, netip.AddrPort) {
	return func(pkt []byte, from netip.AddrPort) {
		c.mu.Lock()
		c.got[i] = append(c.got[i], polledPacket{i, string(pkt), from})
		c.mu.Unlock()
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, g := range c.got {
		n += len(g)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Datagrams waiting on many sockets at once (as a PBX leg's socket has
// one per 20 ms) are each handed to their own socket's callback, with
// their sender, and with io_uring in far fewer system calls than
// datagrams: a slot mix-up would give call A's packet to call B.
func TestPollerRingEachSocketsOwn(t *testing.T) {
	pollModes(t, func(t *testing.T, p *Poller) {
		const n, per = 64, 3
		socks := sockets(t, n, "127.0.0.1:0")
		senders := sockets(t, 2, "127.0.0.1:0")
		// queued before the poller's first round: all ready at once
		for k := range per {
			for i, s := range socks {
				if _, err := senders[i%2].WriteToUDPAddrPort(fmt.Appendf(nil, "%d/%d", i, k), s.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
		}
		c := &collector{got: map[int][]polledPacket{}}
		for i, s := range socks {
			ps, err := p.Add(s, c.on(i))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Remove(ps)
		}
		waitFor(t, "every datagram", func() bool { return c.count() == n*per })
		c.mu.Lock()
		for i := range n {
			g := c.got[i]
			if len(g) != per {
				t.Errorf("socket %d got %d datagrams, want %d", i, len(g), per)
				continue
			}
			for k, pk := range g {
				if want := fmt.Sprintf("%d/%d", i, k); pk.payload != want || pk.from != senders[i%2].LocalAddr() {
					t.Errorf("socket %d datagram %d: %q from %v, want %q from %v", i, k, pk.payload, pk.from, want, senders[i%2].LocalAddr())
				}
			}
		}
		c.mu.Unlock()
		if !p.noRing {
			if !p.Batched() {
				t.Fatal("the poller does not read through io_uring")
			}
			p.mu.Lock()
			submits, received := p.rx.Submits, p.rx.Received
			p.mu.Unlock()
			t.Logf("%d datagrams in %d io_uring_enter", received, submits)
			if received != n*per || submits == 0 || submits > received/8 {
				t.Errorf("%d datagrams in %d submissions: not batched", received, submits)
			}
		}
	})
}

// A socket closed (without Remove) while the poller reads, and another
// closed from inside a callback of the same round, end neither the
// poller nor the other sockets' reception, and nothing deadlocks.
func TestPollerSocketClosedMidRound(t *testing.T) {
	pollModes(t, func(t *testing.T, p *Poller) {
		const n = 32
		socks := sockets(t, n, "127.0.0.1:0")
		from := sockets(t, 1, "127.0.0.1:0")[0]
		c := &collector{got: map[int][]polledPacket{}}
		var closeOnce sync.Once
		for i, s := range socks {
			on := c.on(i)
			if i == 0 {
				// the first callback closes socket 1, whose datagram
				// may be in the same round
				on = func(pkt []byte, a netip.AddrPort) {
					closeOnce.Do(func() { socks[1].Close() })
					c.on(0)(pkt, a)
				}
			}
			ps, err := p.Add(s, on)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Remove(ps)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // bounded: at most 2000 rounds of n datagrams
			defer wg.Done()
			for r := 0; r < 2000; r++ {
				select {
				case <-stop:
					return
				default:
				}
				for _, s := range socks {
					from.WriteToUDPAddrPort([]byte("x"), s.LocalAddr())
				}
				time.Sleep(time.Millisecond)
			}
		}()
		// close the upper half one by one while datagrams arrive
		for i := n / 2; i < n; i++ {
			time.Sleep(2 * time.Millisecond)
			socks[i].Close()
		}
		c.mu.Lock()
		before := len(c.got[2])
		c.mu.Unlock()
		waitFor(t, "socket 2 to go on receiving", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.got[2]) > before+5
		})
		close(stop)
		wg.Wait()
	})
}

// A call hung up (Remove, then Close) while datagrams stream to its
// socket gets none after Remove returns, and its port can be bound again
// at once: no receive is left with the kernel holding the socket open.
func TestPollerHangUpWhileReceiving(t *testing.T) {
	pollModes(t, func(t *testing.T, p *Poller) {
		socks := sockets(t, 8, "127.0.0.1:0")
		from := sockets(t, 1, "127.0.0.1:0")[0]
		c := &collector{got: map[int][]polledPacket{}}
		var polled []*Polled
		for i, s := range socks {
			ps, err := p.Add(s, c.on(i))
			if err != nil {
				t.Fatal(err)
			}
			polled = append(polled, ps)
		}
		defer func() {
			for _, ps := range polled[1:] {
				p.Remove(ps)
			}
		}()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for r := 0; r < 5000; r++ {
				select {
				case <-stop:
					return
				default:
				}
				for _, s := range socks {
					from.WriteToUDPAddrPort([]byte("x"), s.LocalAddr())
				}
				time.Sleep(200 * time.Microsecond)
			}
		}()
		waitFor(t, "socket 0's first datagrams", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.got[0]) > 3
		})
		port := socks[0].LocalAddr()
		p.Remove(polled[0])
		c.mu.Lock()
		atRemove := len(c.got[0])
		c.mu.Unlock()
		if err := socks[0].Close(); err != nil {
			t.Fatal(err)
		}
		again, err := Listen(port, false)
		if err != nil {
			t.Fatalf("the hung-up call's port is still taken: %v", err)
		}
		defer again.Close()
		time.Sleep(50 * time.Millisecond)
		close(stop)
		<-done
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.got[0]) != atRemove {
			t.Errorf("%d datagrams reached the hung-up call after Remove", len(c.got[0])-atRemove)
		}
		if len(c.got[7]) <= 3 {
			t.Errorf("the other calls stopped receiving (%d)", len(c.got[7]))
		}
	})
}

// A round through the ring allocates nothing.
func TestRecvRingDoesNotAllocate(t *testing.T) {
	r := newRecvRing(16, 1500)
	if r == nil {
		t.Skip("no io_uring here")
	}
	defer r.close()
	socks := sockets(t, 8, "127.0.0.1:0")
	from := sockets(t, 1, "127.0.0.1:0")[0]
	p := make([]byte, 172)
	got := 0
	polled := make([]*Polled, len(socks))
	for i, s := range socks {
		polled[i] = &Polled{sock: s, on: func([]byte, netip.AddrPort) { got++ }}
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, s := range socks {
			from.WriteToUDPAddrPort(p, s.LocalAddr())
		}
		for _, s := range polled {
			r.prepare(s)
		}
		r.submit()
		r.deliver()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round", allocs)
	}
	if got == 0 {
		t.Fatal("nothing received")
	}
}

// BenchmarkPollManySockets: one 172-byte datagram (G.711 RTP) waiting on
// each of 64 sockets per round, as the PBX legs' poller finds them, taken
// with a recvfrom each and with one io_uring_enter, the two ways in
// alternate rounds so that a loaded machine's drift hits both alike.
// recvfrom-ns/pkt and io_uring-ns/pkt are the reading thread's CPU per
// datagram (system calls and callbacks; the sending is outside), ratio the
// second over the first.
func BenchmarkPollManySockets(b *testing.B) {
	socks := sockets(b, 64, "127.0.0.1:0")
	from := sockets(b, 1, "127.0.0.1:0")[0]
	polled := make([]*Polled, len(socks))
	got := 0
	on := func([]byte, netip.AddrPort) { got++ }
	for i, s := range socks {
		polled[i] = &Polled{sock: s, on: on, buf: make([]byte, 1500)}
		rc, _ := s.SyscallConn()
		polled[i].rc = rc
		polled[i].read = polled[i].readOne
	}
	ring := newRecvRing(64, 1500)
	if ring == nil {
		b.Skip("no io_uring")
	}
	defer ring.close()
	out := NewMulti(64, 1500)
	defer out.Close()
	p := make([]byte, 172)
	fill := func() {
		for _, s := range socks {
			out.Add(from, p, s.LocalAddr())
		}
		out.Flush()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	threadCPU := func() int64 {
		var r unix.Rusage
		unix.Getrusage(unix.RUSAGE_THREAD, &r)
		return r.Utime.Nano() + r.Stime.Nano()
	}
	// first use: the slots' pages fault in once
	fill()
	for _, s := range polled {
		ring.prepare(s)
	}
	ring.submit()
	ring.deliver()
	got = 0
	var cpuFrom, cpuRing int64
	b.ResetTimer()
	for range b.N {
		fill()
		t0 := threadCPU()
		for _, s := range polled {
			s.rc.Read(s.read)
			if s.n > 0 {
				s.on(s.buf[:s.n], s.from)
			}
		}
		t1 := threadCPU()
		fill()
		t2 := threadCPU()
		for _, s := range polled {
			ring.prepare(s)
		}
		ring.submit()
		ring.deliver()
		t3 := threadCPU()
		cpuFrom += t1 - t0
		cpuRing += t3 - t2
	}
	b.StopTimer()
	n := float64(b.N * len(socks))
	b.ReportMetric(float64(cpuFrom)/n, "recvfrom-ns/pkt")
	b.ReportMetric(float64(cpuRing)/n, "io_uring-ns/pkt")
	b.ReportMetric(float64(cpuRing)/float64(cpuFrom), "ratio")
	if got < b.N*len(socks)*2*9/10 {
		b.Fatalf("%d of %d datagrams read", got, 2*b.N*len(socks))
	}
}
