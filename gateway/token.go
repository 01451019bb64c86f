package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// Token misuse errors. Their text goes to the client as is.
var (
	ErrTokenUnknown  = errors.New("token unknown or already used")
	ErrTokenExpired  = errors.New("token expired: ask the portal for a new one")
	ErrTokenMismatch = errors.New("token was issued for a different caller or destination")
)

// CallGrant is what a token authorises: one call from From to Destination,
// carrying Context to the agent as X- headers.
type CallGrant struct {
	From        string            // SIP URI of the customer, the caller ID
	Destination string            // agent URI or queue name
	Context     map[string]string // customer id, page, queue ...
	Expires     time.Time
	KeyName     string // portal API key that asked
	TURNTag     string // names the TURN credentials handed out with the token
}

// TokenStore keeps issued tokens by their SHA-256 only, so a memory dump or
// a log line never yields a usable token. A token is consumed on first use.
type TokenStore struct {
	mu     sync.Mutex
	grants map[[32]byte]CallGrant
	now    func() time.Time
}

// NewTokenStore returns an empty store.
func NewTokenStore() *TokenStore {
	return &TokenStore{grants: map[[32]byte]CallGrant{}, now: time.Now}
}

// Issue stores g and returns the one-time token for it.
func (s *TokenStore) Issue(g CallGrant) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	s.grants[sha256.Sum256([]byte(tok))] = g
	return tok, nil
}

// Redeem consumes token and returns its grant. from and destination, when
// not empty, must match what the token was issued for. A refused token is
// consumed too when it was expired or mismatched: it is burnt either way.
func (s *TokenStore) Redeem(token, from, destination string) (CallGrant, error) {
	h := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[h]
	if !ok {
		return CallGrant{}, ErrTokenUnknown
	}
	delete(s.grants, h)
	if !s.now().Before(g.Expires) {
		return CallGrant{}, ErrTokenExpired
	}
	if (from != "" && from != g.From) || (destination != "" && destination != g.Destination) {
		return CallGrant{}, ErrTokenMismatch
	}
	return g, nil
}

// Len is the number of outstanding tokens.
func (s *TokenStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	return len(s.grants)
}

func (s *TokenStore) gcLocked() {
	now := s.now()
	for h, g := range s.grants {
		if !now.Before(g.Expires) {
			delete(s.grants, h)
		}
	}
}
