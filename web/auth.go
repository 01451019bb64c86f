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
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"edgebox/internal/atomicfile"
)

// AdminUser is the one account of the box.
const AdminUser = "admin"

// MinPasswordLen is the shortest admin password accepted.
const MinPasswordLen = 8

var (
	errNoAdmin      = errors.New("no admin password is set yet: set one first")
	errAdminExists  = errors.New("an admin password is already set: log in instead")
	errBadLogin     = errors.New("wrong user name or password")
	errLockedOut    = errors.New("too many failed logins: wait a few minutes and try again")
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
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// TokenInfo describes an API token without revealing it.
type TokenInfo struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// Accounts holds the admin password and API tokens, persisted in one file.
// It is safe for concurrent use.
type Accounts struct {
	path string
	cost int

	mu   sync.Mutex
	data adminFile
	set  bool
}

// OpenAccounts loads the account file at path (missing: first boot).
func OpenAccounts(path string, bcryptCost int) (*Accounts, error) {
	a := &Accounts{path: path, cost: bcryptCost}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &a.data); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v): remove it to set a new admin password", path, err)
	}
	a.set = a.data.PasswordHash != ""
	return a, nil
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

// ChangePassword replaces the admin password after checking the old one.
// All API tokens stay valid; sessions are the caller's to drop.
func (a *Accounts) ChangePassword(old, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	if !a.Check(AdminUser, old) {
		return errBadLogin
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), a.cost)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.data
	d.PasswordHash = string(h)
	return a.saveLocked(d)
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

// NewToken creates an API token; the returned secret is shown only once.
func (a *Accounts) NewToken(name string) (secret string, info TokenInfo, err error) {
	if len(name) > 64 {
		return "", TokenInfo{}, errors.New("name: use at most 64 characters")
	}
	secret = "ebx_" + randomString(32)
	info = TokenInfo{ID: randomString(6), Name: name, Created: time.Now().UTC().Truncate(time.Second)}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.set {
		return "", TokenInfo{}, errNoAdmin
	}
	if len(a.data.Tokens) >= 100 {
		return "", TokenInfo{}, errors.New("100 tokens exist already: delete unused ones first")
	}
	d := a.data
	d.Tokens = append(append([]tokenEntry(nil), d.Tokens...), tokenEntry{ID: info.ID, Name: name, Hash: hashToken(secret), Created: info.Created})
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
		out = append(out, TokenInfo{ID: t.ID, Name: t.Name, Created: t.Created, LastUsed: t.LastUsed})
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

// CheckToken reports whether secret is a valid API token.
func (a *Accounts) CheckToken(secret string) bool {
	if secret == "" {
		return false
	}
	h := hashToken(secret)
	a.mu.Lock()
	defer a.mu.Unlock()
	ok := false
	for i := range a.data.Tokens {
		if subtle.ConstantTimeCompare([]byte(a.data.Tokens[i].Hash), []byte(h)) == 1 {
			ok = true
			// Last use is kept in memory only: a write per API call would
			// wear the flash for little value.
			a.data.Tokens[i].LastUsed = time.Now().UTC().Truncate(time.Second)
		}
	}
	return ok
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
