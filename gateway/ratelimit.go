package gateway

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter is a token bucket (x/time/rate) per source address. The
// portal and the signaling endpoint spend tokens on refused requests only:
// one portal server asks for every customer's token, and many customers
// can share a carrier's address, but guessing keys or tokens soon runs
// dry. Buckets of idle sources are forgotten so a scan over many addresses
// cannot grow it without bound.
type rateLimiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[netip.Addr]*bucket
	now     func() time.Time
	lastGC  time.Time
	onSweep func() // tests count sweeps

	// With the table full: when full buckets were last dropped, and the
	// one bucket all sources without their own share then.
	lastFullSweep time.Time
	overflow      *rate.Limiter
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

const maxBuckets = 65536

// limitsFor is perMinute as a refill rate, with a burst of a tenth of a
// minute's worth (at least 5).
func limitsFor(perMinute int) (rate.Limit, int) {
	return rate.Limit(float64(perMinute) / 60), max(perMinute/6, 5)
}

func newRateLimiter(perMinute int) *rateLimiter {
	l, b := limitsFor(perMinute)
	return &rateLimiter{limit: l, burst: b, buckets: map[netip.Addr]*bucket{}, now: time.Now}
}

// setRate changes the rate on reload; existing buckets keep their level.
func (r *rateLimiter) setRate(perMinute int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.limit, r.burst = limitsFor(perMinute)
	r.overflow = nil
	now := r.now()
	for _, b := range r.buckets {
		b.lim.SetLimitAt(now, r.limit)
		b.lim.SetBurstAt(now, r.burst)
	}
}

// allow takes one token for src and says whether it had one.
func (r *rateLimiter) allow(src netip.Addr) bool {
	return r.take(src, true)
}

// blocked says whether src has used up its tokens, without taking one.
func (r *rateLimiter) blocked(src netip.Addr) bool {
	return !r.take(src, false)
}

func (r *rateLimiter) take(src netip.Addr, consume bool) bool {
	// An IPv6 subscriber holds a whole /64: counted as one source, it
	// cannot refill its tokens or fill the table by rotating addresses.
	src = sourceKey(src)
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	// At most one sweep a minute, even with the table full: a sweep per
	// call would let a flood of spoofed sources burn the CPU.
	if now.Sub(r.lastGC) > time.Minute {
		for a, b := range r.buckets {
			if now.Sub(b.last) > 2*time.Minute {
				delete(r.buckets, a)
			}
		}
		r.lastGC = now
		if r.onSweep != nil {
			r.onSweep()
		}
	}
	b := r.buckets[src]
	if b == nil {
		if !consume {
			return true // nothing counted against it: no bucket needed
		}
		if len(r.buckets) >= maxBuckets {
			r.dropFullBuckets(now)
		}
		if len(r.buckets) >= maxBuckets {
			// Under a wide scan that keeps every bucket spent: new
			// sources share one bucket rather than grow the table or
			// get nothing at all (fifth review left them without an
			// answer for two minutes); the known ones keep theirs.
			if r.overflow == nil {
				r.overflow = rate.NewLimiter(r.limit, r.burst)
			}
			return r.overflow.AllowN(now, 1)
		}
		b = &bucket{lim: rate.NewLimiter(r.limit, r.burst)}
		r.buckets[src] = b
	}
	b.last = now
	if !consume {
		return b.lim.TokensAt(now) >= 1
	}
	return b.lim.AllowN(now, 1)
}

// dropFullBuckets forgets, at most once a second, the buckets that have
// refilled: such a bucket remembers nothing a new one would not, so a
// spoofed flood of one datagram per source no longer holds the table for
// the two idle minutes; to keep it full, every one of 65536 sources must
// stay spent, some 10 datagrams a second each at the STUN bound.
func (r *rateLimiter) dropFullBuckets(now time.Time) {
	if now.Sub(r.lastFullSweep) < time.Second {
		return
	}
	r.lastFullSweep = now
	for a, b := range r.buckets {
		if b.lim.TokensAt(now) >= float64(r.burst) {
			delete(r.buckets, a)
		}
	}
}
