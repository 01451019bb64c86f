package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"edgebox/api/webapi"
	"edgebox/internal/atomicfile"
)

// AdminUser is the one account of the box.
const AdminUser = "admin"

// MinPasswordLen is the shortest admin password accepted. Twelve
// characters: the admin UI is reachable from every LAN host, and NIST
// SP 800-63B and the BSI ask for more than eight where a password is the
// only factor; bcrypt and the per-source limiter do the rest.
const MinPasswordLen = 12

// DefaultTokenLifetime is how long an API token lives unless asked
// otherwise; MaxTokenLifetime bounds what may be asked.
const (
	DefaultTokenLifetime = 90 * 24 * time.Hour
	MaxTokenLifetime     = 366 * 24 * time.Hour
)

var (
	errNoAdmin      = errors.New("no admin password is set yet: set one first")
	errAdminExists  = errors.New("an admin password is already set: log in instead")
	errBadLogin     = errors.New("wrong user name or password")
	errShortPasswd  = fmt.Errorf("password: use at least %d characters", MinPasswordLen)
	errLongPasswd   = errors.New("password: use at most 72 bytes")
	errUnknownToken = errors.New("no such token")
)

// adminFile is what the box stores about the admin account, mode 0600 under
// the secrets directory. Tokens are kept only as SHA-256 hashes: a copy of
// the file does not let anyone call the API.
type adminFile struct {
	PasswordHash string       `json:"password_hash"` // bcrypt
	Tokens       []tokenEntry `json:"tokens,omitempty"`
}

type tokenEntry struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Hash     string    `json:"hash"` // hex SHA-256 of the token
	Scope    Scope     `json:"scope,omitempty"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// scope is the entry's scope; tokens made before scopes existed could do
// everything, and keep that until they expire.
func (t tokenEntry) scope() Scope {
	if t.Scope == "" {
		return ScopeAdmin
	}
	return t.Scope
}

// expires is the entry's end; tokens made before expiry existed end
// DefaultTokenLifetime after they were made.
func (t tokenEntry) expires() time.Time {
	if t.Expires.IsZero() {
		return t.Created.Add(DefaultTokenLifetime)
	}
	return t.Expires
}

// TokenInfo describes an API token without revealing it.
type TokenInfo = webapi.TokenInfo

// Accounts holds the admin password and API tokens, persisted in one file.
// It is safe for concurrent use.
type Accounts struct {
	path string
	cost int
	now  func() time.Time

	mu   sync.Mutex
	data adminFile
	set  bool
	// damaged: the file exists but cannot be read. The box then behaves
	// as if a password were set (no first-boot form: that would hand the
	// box to whoever comes first) and only a reset at the box helps.
	damaged bool
}

// errDamaged is what a login gets while the account file is damaged.
var errDamaged = errors.New("the admin account file is damaged: reset the admin password at the box (serial console or front button, see docs/security.md)")

// OpenAccounts loads the account file at path (missing: first boot).
func OpenAccounts(path string, bcryptCost int) (*Accounts, error) {
	a := &Accounts{path: path, cost: bcryptCost, now: time.Now}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &a.data); err != nil || a.data.PasswordHash == "" {
		slog.Error("admin account file damaged: logins refused until the password is reset at the box", "file", path, "err", err)
		a.data, a.set, a.damaged = adminFile{}, true, true
		return a, nil
	}
	a.set = true
	return a, nil
}

// Damaged reports whether the account file could not be read.
func (a *Accounts) Damaged() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.damaged
}

// HasAdmin reports whether the first-boot password has been set.
func (a *Accounts) HasAdmin() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.set
}

func checkPassword(p string) error {
	if len(p) < MinPasswordLen {
		return errShortPasswd
	}
	if len(p) > 72 { // bcrypt ignores the rest
		return errLongPasswd
	}
	return nil
}

// SetInitial sets the admin password once, on first boot.
func (a *Accounts) SetInitial(password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cost)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.set {
		return errAdminExists
	}
	d := a.data
	d.PasswordHash = string(h)
	if err := a.saveLocked(d); err != nil {
		return err
	}
	a.set = true
	return nil
}

// TokenCount is what a password change did to the API tokens: how many
// live ones it kept and how many it revoked.
type TokenCount struct {
	Kept, Revoked int
}

// ChangePassword replaces the admin password after checking the old one.
// What the old password made by itself, the browser sessions, is the
// caller's to end. API tokens are credentials of their own, each made on
// purpose with a name and each revocable (a fleet's tokens among them): a
// LAN installer changing the local password must not cut the fleet off
// the box, so they stay, unless revokeTokens asks to end them all (after
// a break-in: whoever knew the old password may have made one).
func (a *Accounts) ChangePassword(old, password string, revokeTokens bool) (TokenCount, error) {
	if err := checkPassword(password); err != nil {
		return TokenCount{}, err
	}
	if !a.Check(AdminUser, old) {
		return TokenCount{}, errBadLogin
	}
	return a.replacePassword(password, revokeTokens)
}

// ResetPassword sets a new password without the old one: only after the
// caller proved presence at the box (reset.go), the way back from a lost
// or stolen password. Every token is revoked.
func (a *Accounts) ResetPassword(password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	_, err := a.replacePassword(password, true)
	return err
}

func (a *Accounts) replacePassword(password string, revokeTokens bool) (TokenCount, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cost)
	if err != nil {
		return TokenCount{}, err
	}
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rebaseWrongClockLocked(now) // as CheckToken judges expiry
	d := adminFile{PasswordHash: string(h)}
	var n TokenCount
	for _, t := range a.data.Tokens {
		switch {
		case !now.Before(t.expires()): // expired: gone either way
		case revokeTokens:
			n.Revoked++
		default:
			n.Kept++
			d.Tokens = append(d.Tokens, t)
		}
	}
	if err := a.saveLocked(d); err != nil {
		return TokenCount{}, err
	}
	a.set, a.damaged = true, false
	return n, nil
}

// Check reports whether user/password are the admin's.
func (a *Accounts) Check(user, password string) bool {
	a.mu.Lock()
	h := a.data.PasswordHash
	a.mu.Unlock()
	if h == "" {
		return false
	}
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(AdminUser)) == 1
	okPass := bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
	return okUser && okPass
}

// NewToken creates an API token with the given scope that lives for life
// (0: DefaultTokenLifetime); the returned secret is shown only once.
func (a *Accounts) NewToken(name string, scope Scope, life time.Duration) (secret string, info TokenInfo, err error) {
	if len(name) > 64 {
		return "", TokenInfo{}, errors.New("name: use at most 64 characters")
	}
	if !scope.Valid() {
		return "", TokenInfo{}, fmt.Errorf("scope: %q is not read, operate or admin", scope)
	}
	if life == 0 {
		life = DefaultTokenLifetime
	}
	if life < time.Minute || life > MaxTokenLifetime {
		return "", TokenInfo{}, errors.New("expires_days: use 1 to 366 days")
	}
	secret = "ebx_" + randomString(32)
	now := a.now().UTC().Truncate(time.Second)
	info = TokenInfo{ID: randomString(6), Name: name, Scope: scope, Created: now, Expires: now.Add(life)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.set {
		return "", TokenInfo{}, errNoAdmin
	}
	a.rebaseWrongClockLocked(now)
	if len(a.data.Tokens) >= 100 {
		return "", TokenInfo{}, errors.New("100 tokens exist already: delete unused ones first")
	}
	d := a.data
	d.Tokens = nil
	for _, t := range a.data.Tokens { // expired ones go when a new one comes
		if now.Before(t.expires()) {
			d.Tokens = append(d.Tokens, t)
		}
	}
	d.Tokens = append(d.Tokens, tokenEntry{ID: info.ID, Name: name, Hash: hashToken(secret), Scope: scope, Created: info.Created, Expires: info.Expires})
	if err := a.saveLocked(d); err != nil {
		return "", TokenInfo{}, err
	}
	return secret, info, nil
}

// Tokens lists the API tokens.
func (a *Accounts) Tokens() []TokenInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]TokenInfo, 0, len(a.data.Tokens))
	for _, t := range a.data.Tokens {
		out = append(out, TokenInfo{ID: t.ID, Name: t.Name, Scope: t.scope(), Created: t.Created, Expires: t.expires(), LastUsed: t.LastUsed})
	}
	return out
}

// DeleteToken revokes the token with the given id.
func (a *Accounts) DeleteToken(id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.data
	d.Tokens = nil
	found := false
	for _, t := range a.data.Tokens {
		if t.ID == id {
			found = true
			continue
		}
		d.Tokens = append(d.Tokens, t)
	}
	if !found {
		return errUnknownToken
	}
	return a.saveLocked(d)
}

// CheckToken reports whether secret is a valid, unexpired API token, and
// its scope.
func (a *Accounts) CheckToken(secret string) (Scope, bool) {
	if secret == "" {
		return "", false
	}
	h := hashToken(secret)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rebaseWrongClockLocked(now)
	var scope Scope
	ok := false
	for i := range a.data.Tokens {
		t := &a.data.Tokens[i]
		if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(h)) == 1 && now.Before(t.expires()) {
			ok, scope = true, t.scope()
			// Last use is kept in memory only: a write per API call would
			// wear the flash for little value.
			t.LastUsed = now.UTC().Truncate(time.Second)
		}
	}
	return scope, ok
}

func (a *Accounts) saveLocked(d adminFile) error {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o700); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(a.path, b, 0o600); err != nil {
		return fmt.Errorf("store admin account: %w", err)
	}
	a.data = d
	return nil
}

func hashToken(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
