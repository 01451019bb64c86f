package gateway

import (
	"net/netip"
	"testing"
	"time"
)

// TestRateLimiterIPv6BySlash64: one IPv6 subscriber holds a whole /64, so
// the limiter counts a /64 as one source, as the pending-socket cap and
// web's limiter do. Before, each address had its own bucket: rotating
// addresses inside the /64 refilled the guesses at will, and 65536 of them
// filled the table so that every new source, anyone's, was refused.
func TestRateLimiterIPv6BySlash64(t *testing.T) {
	r := newRateLimiter(6) // burst 5
	a := netip.MustParseAddr("2001:db8:1:2::1")
	for range 5 {
		r.allow(a)
	}
	if !r.blocked(a) {
		t.Fatal("the source is not blocked after its burst")
	}
	if !r.blocked(netip.MustParseAddr("2001:db8:1:2:ffff::9")) {
		t.Error("another address of the same /64 has tokens of its own, want the /64's bucket")
	}
	if r.blocked(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("the next /64 is blocked too, want its own bucket")
	}
	if r.blocked(netip.MustParseAddr("192.0.2.7")) || r.blocked(netip.MustParseAddr("::ffff:192.0.2.8")) {
		t.Error("IPv4 sources are blocked, want a bucket per address")
	}
	for i := range 70000 {
		b := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		r.allow(b)
	}
	if r.blocked(netip.MustParseAddr("198.51.100.1")) {
		t.Error("addresses rotated inside one /64 filled the table: a new source is refused")
	}
}

// TestRateLimiterFullTable: spoofed SIP datagrams from random addresses
// fill the table. Before, every later call swept the whole table (65536
// entries, under the lock, for each datagram: a CPU sink for one sender
// of spoofed packets), and every source was refused, the ones that had a
// bucket included: one flood locked the portal server and every customer
// out. Now the sweep runs at most once a minute, known sources keep
// their buckets, and a source with no refusals counted is never blocked.
func TestRateLimiterFullTable(t *testing.T) {
	r := newRateLimiter(60)
	now := r.now()
	r.now = func() time.Time { return now } // a frozen clock: nothing gets old
	portal := netip.MustParseAddr("203.0.113.5")
	r.allow(portal)
	sweeps := 0
	r.onSweep = func() { sweeps++ }
	for i := range maxBuckets + 5000 {
		r.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if sweeps > 1 {
		t.Errorf("the table was swept %d times within a minute, want at most once", sweeps)
	}
	if !r.allow(portal) {
		t.Error("a source with a bucket is refused once the table is full")
	}
	if r.blocked(netip.MustParseAddr("198.51.100.9")) {
		t.Error("a new source with no refusals is blocked once the table is full")
	}
	if len(r.buckets) > maxBuckets {
		t.Errorf("%d buckets, want at most %d", len(r.buckets), maxBuckets)
	}
}
