package gateway

import (
	"net/netip"
	"testing"
	"time"
)

// TestSec6STUNLimiterFullTableStillAnswersNewClients: a spoofed flood of
// one Binding from each of 65536 addresses filled the answers' table,
// and every new client (a browser asking its public address before a
// call) got no answer until the idle buckets were swept two minutes on.
// Now a bucket that has refilled is forgotten (at most one such sweep a
// second), so a second later a new client is answered; and a flood that
// keeps every bucket spent leaves new sources one shared bucket, no more
// than one source's bound in all. Sixth review.
func TestSec6STUNLimiterFullTableStillAnswersNewClients(t *testing.T) {
	r := newReflectionLimiter()
	now := time.Unix(1_000_000, 0)
	r.now = func() time.Time { return now }
	known := netip.MustParseAddr("198.51.100.7")
	r.allow(known)
	for i := range maxBuckets {
		r.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if r.allow(netip.MustParseAddr("203.0.113.1")) {
		t.Log("a new source answered at once (the table had room)")
	}
	now = now.Add(time.Second) // every spoofed bucket has refilled
	client := netip.MustParseAddr("203.0.113.9")
	if !r.allow(client) {
		t.Fatal("one second after a one-datagram-per-source flood, a new client gets no STUN answer (the table holds the flood for two minutes)")
	}
	if !r.allow(known) {
		t.Error("a known source lost its bucket")
	}

	// A flood that keeps every bucket spent: new sources share one bucket.
	r2 := newReflectionLimiter()
	r2.now = func() time.Time { return now }
	for i := range maxBuckets {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		for range r2.burst + 1 {
			r2.allow(a)
		}
	}
	now = now.Add(time.Second)
	for i := range maxBuckets {
		r2.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})) // still spent
	}
	answered := 0
	for i := range 1000 {
		if r2.allow(netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)})) {
			answered++
		}
	}
	if answered == 0 {
		t.Error("with the table kept full, new sources get no answer at all")
	}
	if answered > r2.burst {
		t.Errorf("with the table kept full, 1000 new sources got %d answers, want at most one source's burst (%d): the flood's reflector", answered, r2.burst)
	}
	if len(r2.buckets) > maxBuckets {
		t.Errorf("%d buckets, want at most %d", len(r2.buckets), maxBuckets)
	}
}
