// Package gatewayapi holds the JSON types of the gateway's API (status,
// calls with both legs) and its typed client. It is a leaf: web and edgectl
// import it without linking pion and sipgo, which package gateway does; it
// aliases these types.
package gatewayapi

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"time"

	"edgebox/internal/localapi"
)

// SocketName is the gateway's API socket under /run/edgebox.
const SocketName = "gateway"

// Call states (CallInfo.State).
const (
	StateAuthorized = "authorized" // token redeemed, waiting for the offer
	StateTrying     = "trying"     // INVITE sent
	StateRinging    = "ringing"
	StateEarly      = "early_media"
	StateAnswered   = "answered"
	StateHeld       = "held"
	StateEnded      = "ended"
)

// CallInfo is one call with both legs, as the API, edgectl and the web UI
// show it.
type CallInfo struct {
	ID          string            `json:"id"`
	SIPCallID   string            `json:"sip_call_id,omitempty"`
	From        string            `json:"from"`
	Destination string            `json:"destination"`
	Context     map[string]string `json:"context,omitempty"`
	State       string            `json:"state"`
	Codec       string            `json:"codec,omitempty"`
	MediaPath   string            `json:"media_path,omitempty"` // "fast" or "pion": who carries the audio (gateway/fastpath.go)
	Stack       string            `json:"stack,omitempty"`      // "lean" or "pion": what brought the browser leg up (gateway.media.stack)
	StartedAt   time.Time         `json:"started_at"`
	AnsweredAt  time.Time         `json:"answered_at,omitzero"`
	EndedAt     time.Time         `json:"ended_at,omitzero"`
	DurationSec float64           `json:"duration_sec"` // talk time since answer
	Browser     LegInfo           `json:"browser"`
	PBX         LegInfo           `json:"pbx"`
	Video       *VideoInfo        `json:"video,omitempty"`    // set when video is bridged
	SIPCode     int               `json:"sip_code,omitempty"` // final INVITE status, or 200 for answered calls
	Reason      string            `json:"reason,omitempty"`   // why it ended
}

// LegInfo is one side of a call. In is what the box received from that
// side, Out what it sent there.
type LegInfo struct {
	Local  string      `json:"local,omitempty"`
	Remote string      `json:"remote,omitempty"`
	In     StreamStats `json:"in"`
	Out    StreamStats `json:"out"`
}

// VideoInfo is the video stream of a call, passed through untouched.
type VideoInfo struct {
	Codec   string  `json:"codec"`
	Browser LegInfo `json:"browser"`
	PBX     LegInfo `json:"pbx"`
}

// Status is the gateway's overall state.
type Status struct {
	Enabled bool `json:"enabled"`
	// Disabled: why the gateway is off though the admin may have turned
	// it on (config.json and its previous version both damaged: the box
	// runs on the defaults); empty otherwise
	Disabled      string `json:"disabled,omitempty"`
	ActiveCalls   int    `json:"active_calls"`
	PendingTokens int    `json:"pending_tokens"`
	ICEPort       int    `json:"ice_port"`
	ICELite       bool   `json:"ice_lite"`
	PBX           string `json:"pbx"`
	Registration  string `json:"registration"` // "off", "registering", "registered", or "KIND: what happened and what to do" (KIND: Trunk* in trunkcheck.go)
	// RegisteredUntil: while registered, when the lifetime the PBX
	// granted ends (the box refreshes at 80% of it)
	RegisteredUntil time.Time `json:"registered_until,omitzero"`
	// PBXAddressInUse: the address (host:port) of the PBX the trunk
	// registered at, calls and keepalives go to; a PBX name with several
	// addresses is tried in order (RFC 3263)
	PBXAddressInUse string `json:"pbx_address_in_use,omitempty"`
	// PBXAddressesFailed: the PBX's addresses that did not answer at the
	// last registration, each "host:port: why"
	PBXAddressesFailed []string `json:"pbx_addresses_failed,omitempty"`
	RTPPairsInUse      int      `json:"rtp_pairs_in_use"`
	// Draining: the box takes no new calls (before a restart, or edgectl
	// drain); GET /v1/drain has the details
	Draining bool `json:"draining,omitempty"`
	// browser audio packets the fast path carried (both directions), and
	// those it dropped failing SRTP authentication or replay checks
	FastPackets     uint64 `json:"fast_packets"`
	RejectedPackets uint64 `json:"rejected_packets"`
}

// StreamStats is one direction of a leg as the API shows it.
type StreamStats struct {
	Packets  uint64  `json:"packets"`
	Bytes    uint64  `json:"bytes"`
	Lost     int64   `json:"lost"`
	JitterMS float64 `json:"jitter_ms"`
}

// Client is the typed client of the gateway API (edgectl, web).
type Client struct{ *localapi.Client }

// NewClient connects to the gateway socket.
func NewClient() Client { return Client{localapi.NewClient(SocketName)} }

// NewClientPath connects to a socket at path (tests).
func NewClientPath(path string) Client { return Client{localapi.NewClientPath(path)} }

// Status returns the gateway state.
func (c Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.Get(ctx, "/v1/status", &s)
	return s, err
}

// Calls returns the calls in progress.
func (c Client) Calls(ctx context.Context) ([]CallInfo, error) {
	var calls []CallInfo
	err := c.Get(ctx, "/v1/calls", &calls)
	return calls, err
}

// History returns ended calls, newest first, at most limit (0: all kept).
func (c Client) History(ctx context.Context, limit int) ([]CallInfo, error) {
	var calls []CallInfo
	err := c.Get(ctx, "/v1/history?limit="+strconv.Itoa(max(limit, 0)), &calls)
	return calls, err
}

// Hangup ends a call in progress.
func (c Client) Hangup(ctx context.Context, id string) error {
	return c.Post(ctx, "/v1/calls/"+url.PathEscape(id)+"/hangup", struct{}{}, nil)
}

// PBXCheck is the answer of the SIP test: one OPTIONS to the configured PBX.
type PBXCheck struct {
	// PBX is the address asked (host:port).
	PBX string `json:"pbx"`
	// OK: the PBX answered in SIP (any status, even 405).
	OK bool `json:"ok"`
	// Answer is the PBX's status line ("200 OK"), Server its Server or
	// User-Agent header, RTTMillis the round trip.
	Answer    string  `json:"answer,omitempty"`
	Server    string  `json:"server,omitempty"`
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// Kind says why not, as the trunk check does: unreachable, refused,
	// timeout, self or failed.
	Kind string `json:"kind,omitempty"`
	// Message is one sentence for people.
	Message string `json:"message"`
}

// PBXCheck sends an OPTIONS to the configured PBX and says what came back.
func (c Client) PBXCheck(ctx context.Context) (PBXCheck, error) {
	var res PBXCheck
	err := c.Post(ctx, "/v1/pbx-check", struct{}{}, &res)
	return res, err
}

// Metrics writes the Prometheus text exposition to w.
func (c Client) Metrics(ctx context.Context, w io.Writer) error {
	return c.Get(ctx, "/metrics", w)
}
