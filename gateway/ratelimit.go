package gateway

import (
	"net/netip"
	"sync"
	"time"
)

// rateLimiter is a token bucket per source address. The portal and the
// signaling endpoint spend tokens on refused requests only: one portal
// server asks for every customer's token, and many customers can share a
// carrier's address, but guessing keys or tokens soon runs dry. Buckets of idle sources
// are forgotten so a scan over many addresses cannot grow it without bound.
type rateLimiter struct {
	mu      sync.Mutex
	perMin  float64
	burst   float64
	buckets map[netip.Addr]*bucket
	now     func() time.Time
	lastGC  time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 65536

func newRateLimiter(perMinute int) *rateLimiter {
	b := float64(perMinute) / 6
	if b < 5 {
		b = 5
	}
	return &rateLimiter{perMin: float64(perMinute), burst: b, buckets: map[netip.Addr]*bucket{}, now: time.Now}
}

// setRate changes the rate on reload; existing buckets keep their level.
func (r *rateLimiter) setRate(perMinute int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.perMin = float64(perMinute)
	r.burst = max(float64(perMinute)/6, 5)
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
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastGC) > time.Minute || len(r.buckets) > maxBuckets {
		for a, b := range r.buckets {
			if now.Sub(b.last) > 2*time.Minute {
				delete(r.buckets, a)
			}
		}
		r.lastGC = now
		if len(r.buckets) > maxBuckets {
			// Under a wide scan: refuse new sources rather than grow.
			return false
		}
	}
	b := r.buckets[src]
	if b == nil {
		b = &bucket{tokens: r.burst, last: now}
		r.buckets[src] = b
	}
	b.tokens = min(r.burst, b.tokens+now.Sub(b.last).Minutes()*r.perMin)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	if consume {
		b.tokens--
	}
	return true
}
