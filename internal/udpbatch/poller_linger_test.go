package udpbatch

import (
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// pollerCall is one call's life on a poller: its socket comes and goes.
func pollerCall(tb testing.TB, p *Poller) {
	s, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
	if err != nil {
		tb.Fatal(err)
	}
	ps, err := p.Add(s, func([]byte, netip.AddrPort) {})
	if err != nil {
		tb.Fatal(err)
	}
	p.Remove(ps)
	s.Close()
}

// A poller whose last socket left keeps its epoll set, ring and
// goroutine for the next one (calls one after another, each the
// poller's only socket, made and dropped them for every call: 384 KB of
// ring buffers, an epoll set, a ring and a goroutine each), still reads
// the next socket, and closes them once no socket came for linger.
func TestPollerKeptBetweenCalls(t *testing.T) {
	p := NewPoller(1500, nil)
	p.linger = 300 * time.Millisecond
	pollerCall(t, p)
	p.mu.Lock()
	ep := p.ep
	p.mu.Unlock()
	if ep == nil {
		t.Fatal("the set was closed as its last socket left")
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const calls = 20
	for range calls {
		pollerCall(t, p)
	}
	runtime.ReadMemStats(&m1)
	p.mu.Lock()
	same := p.ep == ep
	p.mu.Unlock()
	if !same {
		t.Error("a new epoll set was made for the next call")
	}
	if per := (m1.TotalAlloc - m0.TotalAlloc) / calls; per > 16<<10 {
		t.Errorf("%d bytes allocated per call's socket, want under 16 KB", per)
	}

	// the next socket is read on the kept set
	s, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make(chan string, 1)
	ps, err := p.Add(s, func(pkt []byte, _ netip.AddrPort) {
		select {
		case got <- string(pkt):
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	from, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	if _, err := from.WriteToUDPAddrPort([]byte("after"), s.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != "after" {
			t.Errorf("got %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a socket added to the kept set was not read")
	}
	p.Remove(ps)

	// no socket for linger: closed
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		closed := p.ep == nil && p.rx == nil
		p.mu.Unlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the set is still open 5 s after its last socket left (linger 300 ms)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkPollerCallCycle is one call's socket added to and removed
// from a poller it is alone on: kept (linger, the default) against
// closed at once (what every such call cost before).
func BenchmarkPollerCallCycle(b *testing.B) {
	for _, c := range []struct {
		name   string
		linger time.Duration
	}{{"kept", pollerLinger}, {"closed", 0}} {
		b.Run(c.name, func(b *testing.B) {
			p := NewPoller(1500, nil)
			p.linger = c.linger
			b.ReportAllocs()
			for b.Loop() {
				pollerCall(b, p)
			}
		})
	}
}
