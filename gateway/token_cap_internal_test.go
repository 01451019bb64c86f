package gateway

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestTokenStoreBounded: an API key holder minting tokens as fast as it
// can fills the store up to maxGrants and is then refused (503 at the
// portal), instead of growing the gateway's memory until the first
// tokens expire; once they have, tokens are issued again.
func TestTokenStoreBounded(t *testing.T) {
	s := newTokenStore()
	now := time.Now()
	s.now = func() time.Time { return now }
	g := callGrant{Destination: "support", Expires: now.Add(time.Minute)}
	for i := range maxGrants {
		if _, err := s.issue(g); err != nil {
			t.Fatalf("token %d refused: %v", i+1, err)
		}
	}
	_, err := s.issue(g)
	if !errors.Is(err, errTooManyTokens) {
		t.Fatalf("token beyond %d: %v, want errTooManyTokens", maxGrants, err)
	}
	if code, reason := issueRefusal(err); code != http.StatusServiceUnavailable || reason != "too_many_tokens" {
		t.Errorf("portal answer %d %s, want 503 too_many_tokens", code, reason)
	}
	if len(s.grants) != maxGrants || len(s.bySIP) != maxGrants {
		t.Errorf("store holds %d grants, %d SIP users, want %d", len(s.grants), len(s.bySIP), maxGrants)
	}
	now = now.Add(2 * time.Minute)
	g.Expires = now.Add(time.Minute)
	if _, err := s.issue(g); err != nil {
		t.Errorf("after the first tokens expired: %v", err)
	}
}
