package dtlssrtp

import (
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"
)

// sessionTable finds a packet's session by its sender's address. The
// readers look up every packet; sessions are added and removed only at a
// call's set-up, end and ICE rebinding. So the readers load a plain map
// through one atomic pointer, and a change copies it (under mu) and
// swaps the copy in: BenchmarkColdSessions, 1000 sessions, a sync.Map
// lookup cost more than a hashed map's (its trie's nodes are more cache
// lines to miss). The price is paid at set-up and hang-up: with 1000
// sessions up, one of each copies 197 KB in 54 µs
// (BenchmarkSessionTableChange). 64 shards by address cut that to 2 µs
// and 3 KB but cost every packet 15-25 ns more (BenchmarkColdSessions),
// so it is one map.
type sessionTable struct {
	mu sync.Mutex
	m  atomic.Pointer[map[netip.AddrPort]*Session]
}

// load is the session at a (an unmapped address), without a lock.
func (t *sessionTable) load(a netip.AddrPort) (*Session, bool) {
	m := t.m.Load()
	if m == nil {
		return nil, false
	}
	s, ok := (*m)[a]
	return s, ok
}

// store puts s at a.
func (t *sessionTable) store(a netip.AddrPort, s *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var next map[netip.AddrPort]*Session
	if m := t.m.Load(); m != nil {
		next = maps.Clone(*m)
	} else {
		next = map[netip.AddrPort]*Session{}
	}
	next[a] = s
	t.m.Store(&next)
}

// compareAndDelete removes a if s is still there.
func (t *sessionTable) compareAndDelete(a netip.AddrPort, s *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.m.Load()
	if m == nil || (*m)[a] != s {
		return
	}
	next := maps.Clone(*m)
	delete(next, a)
	t.m.Store(&next)
}
