package gateway

import (
	"errors"
	"testing"
	"time"
)

// TestSec5TokenStoreShareOfOneKey: the store of outstanding call tokens
// is bounded (10000), but one API key could take all of it: a portal
// whose key leaked, or a buggy one, minted tokens until the store was
// full, and every other key's customers got 503 too_many_tokens, their
// calls refused for as long as the flood went on (a token lives minutes).
// With several keys configured, one key holds at most its share
// (maxGrants divided among the keys, at least half the store for two);
// a single key keeps the whole store. Fifth review.
func TestSec5TokenStoreShareOfOneKey(t *testing.T) {
	s := newTokenStore()
	now := time.Now()
	s.now = func() time.Time { return now }
	issue := func(key string) error {
		_, err := s.issueShared(callGrant{Destination: "support", KeyName: key, Expires: now.Add(time.Minute)}, 2)
		return err
	}
	taken := 0
	for range maxGrants {
		if err := issue("leaked"); err != nil {
			if !errors.Is(err, errTooManyTokens) {
				t.Fatal(err)
			}
			break
		}
		taken++
	}
	if taken > maxGrants/2 {
		t.Errorf("one of two keys holds %d tokens, want at most %d", taken, maxGrants/2)
	}
	for i := range 100 {
		if err := issue("portal"); err != nil {
			t.Fatalf("the other key's token %d refused while the first key floods: %v", i+1, err)
		}
	}
	// One key alone keeps the whole store.
	one := newTokenStore()
	one.now = s.now
	for i := range maxGrants {
		if _, err := one.issueShared(callGrant{Destination: "support", KeyName: "only", Expires: now.Add(time.Minute)}, 1); err != nil {
			t.Fatalf("a single key's token %d refused: %v", i+1, err)
		}
	}
}
