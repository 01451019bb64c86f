// Package vpnapi holds the JSON types of the VPN API (netctl serves it on
// its socket under /v1/vpn/) and its typed client. It is a leaf: init, web
// and edgectl import it without linking netctl/openvpn, which aliases these
// types.
package vpnapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"edgebox/internal/localapi"
)

// Prefix is the VPN API's path on netctl's socket:
//
//	GET  /v1/vpn/status       -> Status
//	POST /v1/vpn/import       multipart form: file "profile", optional fields
//	                          "passphrase", "username", "password"; or the raw
//	                          file as the body with ?filename=NAME -> ImportResult
//	POST /v1/vpn/credentials  Credentials (JSON) -> Status
//	POST /v1/vpn/reconnect    -> Status
const Prefix = "/v1/vpn/"

// MaxUploadSize bounds an upload, archive or not.
const MaxUploadSize = 4 << 20

// MaxSecretLen stays below openvpn's USER_PASS_LEN.
const MaxSecretLen = 1024

// States beyond openvpn's own (CONNECTING, WAIT, AUTH, GET_CONFIG,
// ASSIGN_IP, ADD_ROUTES, CONNECTED, RECONNECTING, EXITING, RESOLVE,
// TCP_CONNECT, AUTH_PENDING).
const (
	StateDisabled         = "DISABLED"
	StateNoProfile        = "NO_PROFILE"
	StateWaitingForUplink = "WAITING_FOR_UPLINK"
	StateStarting         = "STARTING"
	StateNeedsPassphrase  = "NEEDS_PASSPHRASE"
	StateNeedsLogin       = "NEEDS_LOGIN"
	StateRestarting       = "RESTARTING"
	StateStopped          = "STOPPED"
	StateConnected        = "CONNECTED"
	StateReconnecting     = "RECONNECTING"
)

// Status is the tunnel as the API and edgectl show it. It carries no secret.
type Status struct {
	State string `json:"state"`
	// Detail is openvpn's reason for the state (ping-restart, SUCCESS ...).
	Detail string `json:"detail,omitempty"`
	// Interface is the tun device; the firewall lets the box's services
	// answer on it.
	Interface      string     `json:"interface"`
	TunnelAddress  string     `json:"tunnel_address,omitempty"`
	TunnelAddress6 string     `json:"tunnel_address6,omitempty"`
	Remote         string     `json:"remote,omitempty"`
	ConnectedSince *time.Time `json:"connected_since,omitempty"`
	BytesIn        uint64     `json:"bytes_in"`
	BytesOut       uint64     `json:"bytes_out"`
	// LastError says in words what went wrong last and what to do.
	LastError   string       `json:"last_error,omitempty"`
	LastErrorAt *time.Time   `json:"last_error_at,omitempty"`
	Uplink      string       `json:"uplink,omitempty"`
	Profile     *ProfileInfo `json:"profile,omitempty"`
	// HasPassphrase and HasLogin say whether secrets are stored, never
	// what they are.
	HasPassphrase bool `json:"has_passphrase"`
	HasLogin      bool `json:"has_login"`
	Restarts      int  `json:"restarts"`
	PID           int  `json:"pid,omitempty"`
	// DNS is what the server pushed about DNS and how the box uses it;
	// nil when it pushed no DNS server (or the tunnel is down).
	DNS *DNS `json:"dns,omitempty"`
}

// DNS uses: the pushed servers answer the pushed domains, or every
// query, or none (Note says why).
const (
	DNSSplit  = "split"
	DNSAll    = "all"
	DNSUnused = "unused"
)

// DNS is the VPN's DNS in Status.
type DNS struct {
	Servers []string `json:"servers"`
	Domains []string `json:"domains,omitempty"`
	// Search are the domains the box's own lookups also try a short
	// name in ("pbx" as pbx.corp.example): pushed DOMAIN, DOMAIN-SEARCH
	// and 2.6's search-domains, not resolve-domains.
	Search []string `json:"search,omitempty"`
	Use    string   `json:"use"`
	Note   string   `json:"note,omitempty"`
}

// ProfileInfo is what the API shows about the stored profile. It carries
// no secret.
type ProfileInfo struct {
	Name       string    `json:"name"`
	ImportedAt time.Time `json:"imported_at"`
	Remotes    []string  `json:"remotes"`
	DevType    string    `json:"dev_type"`
	// KeyEncrypted means the private key needs a passphrase.
	KeyEncrypted bool `json:"key_encrypted"`
	// NeedsUserPass means the server asks for a username and password.
	NeedsUserPass bool       `json:"needs_user_pass"`
	CertSubject   string     `json:"cert_subject,omitempty"`
	CertNotAfter  *time.Time `json:"cert_not_after,omitempty"`
	// Notes tell the installer what the import changed ("converted for
	// openvpn 2.6: ...", lines dropped) and what openvpn warned about.
	Notes []string `json:"notes,omitempty"`
}

// Credentials are the secrets openvpn asks for over the management
// interface. In a request, a nil field leaves the stored value alone and an
// empty string clears it.
type Credentials struct {
	Passphrase *string `json:"passphrase,omitempty"`
	Username   *string `json:"username,omitempty"`
	Password   *string `json:"password,omitempty"`
}

// Validate refuses values the management interface cannot carry.
func (c Credentials) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"passphrase", c.Passphrase}, {"username", c.Username}, {"password", c.Password}} {
		if f.v == nil {
			continue
		}
		if len(*f.v) > MaxSecretLen {
			return fmt.Errorf("vpn %s: longer than %d characters", f.name, MaxSecretLen)
		}
		if strings.ContainsAny(*f.v, "\x00\r\n") {
			return fmt.Errorf("vpn %s: must not contain line breaks", f.name)
		}
	}
	return nil
}

// ImportResult answers an import.
type ImportResult struct {
	Profile ProfileInfo `json:"profile"`
}

// Client calls the VPN API on netctl's socket.
type Client struct {
	c *localapi.Client
}

// NewClient returns a client for netctl's socket.
func NewClient() Client { return Client{c: localapi.NewClient("netctl")} }

// NewClientWith wraps an existing transport (another socket, or the web
// service's proxy).
func NewClientWith(c *localapi.Client) Client { return Client{c: c} }

// Status fetches the tunnel's state.
func (c Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.c.Get(ctx, Prefix+"status", &st)
	return st, err
}

// SetCredentials stores a passphrase and/or login.
func (c Client) SetCredentials(ctx context.Context, cr Credentials) (Status, error) {
	var st Status
	err := c.c.Post(ctx, Prefix+"credentials", cr, &st)
	return st, err
}

// Reconnect makes the tunnel reconnect now.
func (c Client) Reconnect(ctx context.Context) (Status, error) {
	var st Status
	err := c.c.Post(ctx, Prefix+"reconnect", struct{}{}, &st)
	return st, err
}

// Import uploads a profile (.ovpn, or a tar/zip with its files), with
// optional credentials checked in the same step.
func (c Client) Import(ctx context.Context, r io.Reader, filename string, cr Credentials) (ProfileInfo, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("profile", filename)
	if err != nil {
		return ProfileInfo{}, err
	}
	if _, err := io.Copy(fw, io.LimitReader(r, MaxUploadSize+1)); err != nil {
		return ProfileInfo{}, fmt.Errorf("read %s: %w", filename, err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"passphrase", cr.Passphrase}, {"username", cr.Username}, {"password", cr.Password}} {
		if f.v != nil {
			mw.WriteField(f.name, *f.v)
		}
	}
	if err := mw.Close(); err != nil {
		return ProfileInfo{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.c.Base+Prefix+"import?filename="+url.QueryEscape(filename), &body)
	if err != nil {
		return ProfileInfo{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.c.Token)
	}
	resp, err := c.c.HTTP.Do(req)
	if err != nil {
		return ProfileInfo{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ProfileInfo{}, err
	}
	if resp.StatusCode >= 300 {
		var e localapi.Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return ProfileInfo{}, errors.New(e.Error)
		}
		return ProfileInfo{}, fmt.Errorf("vpn import: %s", resp.Status)
	}
	var res ImportResult
	if err := json.Unmarshal(data, &res); err != nil {
		return ProfileInfo{}, fmt.Errorf("vpn import: bad answer: %w", err)
	}
	return res.Profile, nil
}
