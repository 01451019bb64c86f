package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Token misuse errors. Their text goes to the client as is.
var (
	errTokenUnknown  = errors.New("token unknown or already used")
	errTokenExpired  = errors.New("token expired: ask the portal for a new one")
	errTokenMismatch = errors.New("token was issued for a different caller or destination")
	errTokenReceive  = errors.New("this token receives a call (callback) and cannot place one: wait with it on /v1/signal")
)

// callGrant is what a token authorises: one call from From to Destination,
// carrying Context to the agent as X- headers.
type callGrant struct {
	From        string            // SIP URI of the customer, the caller ID
	Destination string            // agent URI or queue name
	Context     map[string]string // customer id, page, queue ...
	Expires     time.Time
	KeyName     string   // portal API key that asked
	TURNTag     string   // names the TURN credentials handed out with the token
	TokenHash   [32]byte // SHA-256 of the token: the portal names the call by it (POST /v1/queue)
	Receive     bool     // a callback token: its page waits for the PBX's call (callback.go)
	// SIPUser names the token to a SIP-over-WebSocket user agent (its
	// digest username); sipHA1 is MD5(SIPUser:realm:token), what checking
	// the digest needs (sipws.go). Both are derived, the token is not kept.
	SIPUser string
	sipHA1  string
}

// tokenStore keeps issued tokens by their SHA-256 only, so a memory dump or
// a log line never yields a usable token. A token is consumed on first use.
type tokenStore struct {
	mu     sync.Mutex
	grants map[[32]byte]callGrant
	bySIP  map[string][32]byte // SIPUser -> key of grants
	now    func() time.Time
	lastGC time.Time
}

// maxGrants bounds the tokens outstanding (issued, unused, unexpired). An
// API key holder could otherwise mint tokens as fast as the portal
// answers and fill the gateway's memory until the first ones expire;
// and a sweep of the whole store on every issue made each request cost
// more as the store grew. Far above what the box's calls need.
const maxGrants = 10000

var errTooManyTokens = errors.New("too many call tokens are outstanding (issued and neither used nor expired): retry when some have been used or have expired")

// issueRefusal is the portal's status and metric reason for an issue error.
func issueRefusal(err error) (int, string) {
	if errors.Is(err, errTooManyTokens) {
		return http.StatusServiceUnavailable, "too_many_tokens"
	}
	return http.StatusInternalServerError, "internal"
}

// newTokenStore returns an empty store.
func newTokenStore() *tokenStore {
	return &tokenStore{grants: map[[32]byte]callGrant{}, bySIP: map[string][32]byte{}, now: time.Now}
}

// issue stores g and returns the one-time token for it.
func (s *tokenStore) issue(g callGrant) (string, error) { return s.issueShared(g, 1) }

// issueShared is issue where keys API keys share the store: g's key may
// hold at most maxGrants/keys of it. One key could otherwise fill the
// store (a leaked or buggy portal), and every other key's customers got
// too_many_tokens for as long as it went on (fifth review).
func (s *tokenStore) issueShared(g callGrant, keys int) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(tok))
	g.SIPUser = sipUserOf(h)
	g.sipHA1 = sipHA1(g.SIPUser, tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.grants) >= maxGrants || now.Sub(s.lastGC) >= time.Second {
		s.gcLocked()
		s.lastGC = now
	}
	if len(s.grants) >= maxGrants {
		return "", errTooManyTokens
	}
	if share := maxGrants / max(keys, 1); len(s.grants) >= share && s.heldByLocked(g.KeyName) >= share {
		return "", errTooManyTokens
	}
	s.grants[h] = g
	s.bySIP[g.SIPUser] = h
	return tok, nil
}

// heldByLocked counts key's outstanding tokens (only asked once the store
// holds a share's worth: a walk of at most maxGrants).
func (s *tokenStore) heldByLocked(key string) int {
	n := 0
	for _, g := range s.grants {
		if g.KeyName == key {
			n++
		}
	}
	return n
}

// sipGrant is the grant of SIP user name, not consumed: a REGISTER and the
// digest check before an INVITE look at it.
func (s *tokenStore) sipGrant(user string) (callGrant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.bySIP[user]
	if !ok {
		return callGrant{}, false
	}
	g, ok := s.grants[h]
	if !ok || !s.now().Before(g.Expires) {
		return callGrant{}, false
	}
	g.TokenHash = h
	return g, true
}

// redeemSIP consumes the token of SIP user name (its digest was checked)
// for a call to destination.
func (s *tokenStore) redeemSIP(user, destination string) (callGrant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.bySIP[user]
	if !ok {
		return callGrant{}, errTokenUnknown
	}
	g, ok := s.grants[h]
	if !ok {
		delete(s.bySIP, user)
		return callGrant{}, errTokenUnknown
	}
	if g.Receive {
		return callGrant{}, errTokenReceive // kept: its page may still wait with it
	}
	delete(s.grants, h)
	delete(s.bySIP, user)
	if !s.now().Before(g.Expires) {
		return callGrant{}, errTokenExpired
	}
	if destination != "" && !sameDestination(destination, g.Destination) {
		return callGrant{}, errTokenMismatch
	}
	g.TokenHash = h
	return g, nil
}

// redeem consumes token and returns its grant. from and destination, when
// not empty, must match what the token was issued for. A refused token is
// consumed too when it was expired or mismatched: it is burnt either way.
func (s *tokenStore) redeem(token, from, destination string) (callGrant, error) {
	h := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[h]
	if !ok {
		return callGrant{}, errTokenUnknown
	}
	delete(s.grants, h)
	delete(s.bySIP, g.SIPUser)
	if !s.now().Before(g.Expires) {
		return callGrant{}, errTokenExpired
	}
	if (from != "" && from != g.From) || (destination != "" && destination != g.Destination) {
		return callGrant{}, errTokenMismatch
	}
	g.TokenHash = h
	return g, nil
}

// pending is the number of outstanding tokens.
func (s *tokenStore) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gcLocked()
	return len(s.grants)
}

func (s *tokenStore) gcLocked() {
	now := s.now()
	for h, g := range s.grants {
		if !now.Before(g.Expires) {
			delete(s.grants, h)
			delete(s.bySIP, g.SIPUser)
		}
	}
}
