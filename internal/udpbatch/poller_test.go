package udpbatch

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

type polledPacket struct {
	to      int
	payload string
	from    netip.AddrPort
}

// TestPollerReadsEverySocket: packets to many sockets all reach their
// callbacks with the sender's address, a removed socket is not read
// again, endRound runs, and the goroutine ends once the last socket
// left (after the poller's linger).
func TestPollerReadsEverySocket(t *testing.T) {
	const n = 40
	rounds := 0
	p := NewPoller(1500, func() { rounds++ })
	p.linger = 20 * time.Millisecond
	got := make(chan polledPacket, 4*n)
	socks := make([]*Socket, n)
	polled := make([]*Polled, n)
	for i := range socks {
		s, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		socks[i] = s
		if polled[i], err = p.Add(s, func(pkt []byte, from netip.AddrPort) {
			got <- polledPacket{i, string(pkt), from}
		}); err != nil {
			t.Fatal(err)
		}
	}
	from, err := Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	sendAll := func(round int) {
		for i, s := range socks {
			for k := range 2 {
				if _, err := from.WriteToUDPAddrPort(fmt.Appendf(nil, "%d/%d/%d", round, i, k), s.LocalAddr()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	collect := func(want int) map[string]polledPacket {
		seen := map[string]polledPacket{}
		deadline := time.After(5 * time.Second)
		for len(seen) < want {
			select {
			case g := <-got:
				seen[g.payload] = g
			case <-deadline:
				t.Fatalf("%d of %d packets read", len(seen), want)
			}
		}
		return seen
	}

	sendAll(0)
	for payload, g := range collect(2 * n) {
		var round, to, k int
		fmt.Sscanf(payload, "%d/%d/%d", &round, &to, &k)
		if g.to != to || g.from != from.LocalAddr() {
			t.Errorf("%q read by socket %d from %v, want socket %d from %v", payload, g.to, g.from, to, from.LocalAddr())
		}
	}
	for i := 0; i < n; i += 2 {
		p.Remove(polled[i])
	}
	sendAll(1)
	for payload, g := range collect(n) {
		if g.to%2 == 0 {
			t.Errorf("removed socket %d still read (%q)", g.to, payload)
		}
	}
	select {
	case g := <-got:
		t.Errorf("extra packet %q for socket %d", g.payload, g.to)
	case <-time.After(100 * time.Millisecond):
	}
	p.mu.Lock()
	r := rounds
	p.mu.Unlock()
	if r == 0 {
		t.Error("endRound never ran")
	}
	for i := 1; i < n; i += 2 {
		p.Remove(polled[i])
	}
	time.Sleep(200 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ep != nil || len(p.socks) != 0 {
		t.Errorf("epoll set still open with %d sockets after the last was removed", len(p.socks))
	}
}
