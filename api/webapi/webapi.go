// Package webapi holds the JSON types of web's REST API (/api/v1) that
// edgectl and other clients read and send: status, config changes,
// backups, tokens. It is a leaf: edgectl imports it without linking web,
// which aliases these types.
package webapi

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/api/vpnapi"
	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
)

// SocketName is web's API socket under /run/edgebox (root on the box acts
// with ScopeAdmin there).
const SocketName = "web"

// Client calls web's REST API. The embedded localapi client reaches the
// paths without a typed method here.
type Client struct{ *localapi.Client }

// NewClient connects to /run/edgebox/web.sock.
func NewClient() Client { return Client{localapi.NewClient(SocketName)} }

// Status returns the whole box at a glance.
func (c Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.Get(ctx, "/api/v1/status", &s)
	return s, err
}

// Tokens lists the API tokens, without their secrets.
func (c Client) Tokens(ctx context.Context) ([]TokenInfo, error) {
	var l []TokenInfo
	err := c.Get(ctx, "/api/v1/tokens", &l)
	return l, err
}

// CreateToken makes an API token; the answer carries its secret, once.
func (c Client) CreateToken(ctx context.Context, req TokenRequest) (NewTokenResponse, error) {
	var r NewTokenResponse
	err := c.Post(ctx, "/api/v1/tokens", req, &r)
	return r, err
}

// RevokeToken ends the token with this id at once.
func (c Client) RevokeToken(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil, nil)
}

// Status is the whole box at a glance: what the dashboard, edgectl status
// and GET /api/v1/status show. A part whose service does not answer is
// nil and its name is in Unavailable with the reason.
type Status struct {
	Time        time.Time          `json:"time"`
	System      *sysapi.System     `json:"system,omitempty"`
	Network     *netapi.Status     `json:"network,omitempty"`
	VPN         *vpnapi.Status     `json:"vpn,omitempty"`
	Gateway     *gatewayapi.Status `json:"gateway,omitempty"`
	Unavailable map[string]string  `json:"unavailable,omitempty"`
}

// ConfigSet changes settings by path, all at once: either every change is
// valid and stored, or nothing is.
type ConfigSet struct {
	Settings map[string]any `json:"settings"`
	// DryRun validates without storing.
	DryRun bool `json:"dry_run,omitempty"`
	// ConfirmExpose confirms turning web.expose_management on (a
	// separate, deliberate step: it puts management within reach of the
	// internet).
	ConfirmExpose bool `json:"confirm_expose,omitempty"`
}

// ConfigResult answers a config change or validation.
type ConfigResult struct {
	OK       bool         `json:"ok"`
	Errors   []FieldError `json:"errors,omitempty"`
	Reloaded []string     `json:"reloaded,omitempty"`
	// ReloadErrors name services that could not be asked to reload; the
	// config is stored and they apply it when they restart.
	ReloadErrors []string `json:"reload_errors,omitempty"`
	// Tidied holds the settings stored otherwise than sent, as stored:
	// spaces trimmed, a PIN's spaces dropped, a PBX URI's host:port
	// (web/tidy.go), so a form can show what was kept.
	Tidied map[string]any `json:"tidied,omitempty"`
	// NeedsConfirm: a restore was checked, not applied. Changes lists
	// what it would change; send it again with Confirm to apply.
	NeedsConfirm bool           `json:"needs_confirm,omitempty"`
	Confirm      string         `json:"confirm,omitempty"`
	Changes      []ConfigChange `json:"changes,omitempty"`
	Warnings     []string       `json:"warnings,omitempty"`
	// LANMoved lists the LAN ports whose address the save changed: where
	// the box is now and what a device on the LAN has to do.
	LANMoved []LANMove `json:"lan_moved,omitempty"`
}

// LANMove is one LAN port's address change as the save's answer tells it.
type LANMove struct {
	Role string `json:"role"`
	From string `json:"from"` // the old address, "192.168.1.1"
	To   string `json:"to"`   // the new one, "192.168.7.1"
	URL  string `json:"url"`  // where the web UI is now, "https://192.168.7.1/"
	// OldAddressMinutes is how long the box still answers on From.
	OldAddressMinutes int `json:"old_address_minutes"`
	// Message says it in the person's language, with what to do.
	Message string `json:"message"`
}

// FieldError is one validation problem tied to a config path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ConfigChange is one setting a restore changes. Secrets show as
// Redacted.
type ConfigChange struct {
	Path string `json:"path"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// RestoreRequest restores a backup (the JSON form; the page sends a
// multipart form with the same fields and the file in "backup").
type RestoreRequest struct {
	Backup     json.RawMessage `json:"backup"`
	Passphrase string          `json:"passphrase,omitempty"`
	// Confirm is the "confirm" value of the answer that listed the
	// changes: the restore is applied only with it.
	Confirm       string `json:"confirm,omitempty"`
	ConfirmExpose bool   `json:"confirm_expose,omitempty"`
}

// ConfigValue is one setting.
type ConfigValue struct {
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// MaxBackupSize bounds restore uploads.
const MaxBackupSize = 1 << 20

// BackupFormat is the backup format this firmware writes.
const BackupFormat = "2"

// MinPassphraseLen is the shortest backup passphrase accepted.
const MinPassphraseLen = 12

// Backup is the file an admin downloads to restore the box's setup later.
type Backup struct {
	Format   string          `json:"edgebox_backup"`
	Created  time.Time       `json:"created"`
	Hostname string          `json:"hostname,omitempty"`
	Version  string          `json:"firmware,omitempty"`
	Config   json.RawMessage `json:"config"` // secrets redacted
	Secrets  *SealedConfig   `json:"secrets,omitempty"`
	// Integrity is the hex HMAC-SHA256 of the other fields.
	Integrity string `json:"integrity,omitempty"`
}

// SealedConfig is the whole config, encrypted.
type SealedConfig struct {
	KDF        string `json:"kdf"` // "scrypt"
	N          int    `json:"n"`
	R          int    `json:"r"`
	P          int    `json:"p"`
	Salt       []byte `json:"salt"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// BackupRequest asks for a backup.
type BackupRequest struct {
	Passphrase string `json:"passphrase"`
}

// Scope is what an API token may do. Browser sessions, Basic auth and
// root on the box (web's unix socket) act with ScopeAdmin.
type Scope string

const (
	// ScopeRead reads status, logs, config (secrets redacted), metrics.
	ScopeRead Scope = "read"
	// ScopeOperate also runs the box: restart services, reboot, send
	// SMS, run diagnostics.
	ScopeOperate Scope = "operate"
	// ScopeAdmin may do everything: config changes, backup (it holds the
	// secrets), restore, firmware update, factory reset, tokens, and the
	// raw service proxy.
	ScopeAdmin Scope = "admin"
)

var scopeRank = map[Scope]int{ScopeRead: 1, ScopeOperate: 2, ScopeAdmin: 3}

// Valid reports whether s is one of the scopes above.
func (s Scope) Valid() bool { return scopeRank[s] > 0 }

// Allows reports whether a caller with scope s may do what needs scope need.
func (s Scope) Allows(need Scope) bool { return scopeRank[s] >= scopeRank[need] }

// TokenRequest creates an API token.
type TokenRequest struct {
	Name string `json:"name,omitempty"`
	// Scope is read (default), operate or admin.
	Scope Scope `json:"scope,omitempty"`
	// ExpiresDays is the token's lifetime in days (default 90, at most 366).
	ExpiresDays int `json:"expires_days,omitempty"`
}

// TokenInfo describes an API token without revealing it.
type TokenInfo struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Scope    Scope     `json:"scope"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// NewTokenResponse carries a token's secret, shown this one time.
type NewTokenResponse struct {
	Token string `json:"token"`
	TokenInfo
}

// ResetCodeAnswer answers POST /api/v1/password/reset-code.
type ResetCodeAnswer struct {
	Message string `json:"message"`
	// Code is given only to root on the box (web's unix socket).
	Code    string    `json:"code,omitempty"`
	Expires time.Time `json:"expires"`
}
