// Package netapi holds the JSON types of netctl's API (uplinks, LAN,
// firewall, modem, SMS, AT passthrough) and its typed client. It is a leaf:
// init, web and edgectl import it without linking netctl, which aliases
// these types.
package netapi

import (
	"context"
	"net/netip"
	"net/url"
	"time"

	"edgebox/api/modemapi"
	"edgebox/internal/localapi"
)

// SocketName is netctl's socket under /run/edgebox.
const SocketName = "netctl"

// Uplink states, as the API shows them.
const (
	UplinkDisabled    = "disabled"    // not in network.uplinks or not enabled
	UplinkAbsent      = "absent"      // its interface does not exist (yet)
	UplinkNoCarrier   = "no-carrier"  // link down
	UplinkConfiguring = "configuring" // carrier, waiting for an address
	UplinkProbing     = "probing"     // address, health not yet confirmed
	UplinkHealthy     = "healthy"
	UplinkFailed      = "failed" // probes unanswered for health.fail_after_sec
)

// Status is everything netctl shows at once.
type Status struct {
	Active   string         `json:"active,omitempty"` // name of the uplink with the default route
	Uplinks  []UplinkStatus `json:"uplinks"`
	LAN      []LANStatus    `json:"lan"`
	Firewall FirewallStatus `json:"firewall"`
	Modem    *ModemStatus   `json:"modem,omitempty"`
	// VoiceModems are the voice-only modems (network.modem.voice_modems),
	// in config order; each status's Slot names its slot.
	VoiceModems []ModemStatus `json:"voice_modems,omitempty"`
	// Switches counts default-route changes since start.
	Switches  int       `json:"switches"`
	LastCheck time.Time `json:"last_check"`
}

// UplinkStatus is one uplink.
type UplinkStatus struct {
	Name      string    `json:"name"` // "wan" or "modem"
	Interface string    `json:"interface,omitempty"`
	Method    string    `json:"method"`
	State     string    `json:"state"`
	Active    bool      `json:"active"`
	Carrier   bool      `json:"carrier"`
	Priority  int       `json:"priority"` // 0 is most preferred
	Address   string    `json:"address,omitempty"`
	Gateway   string    `json:"gateway,omitempty"`
	DNS       []string  `json:"dns,omitempty"`
	MTU       int       `json:"mtu,omitempty"`
	Routes    []Route   `json:"routes,omitempty"`
	DHCP      *DHCPInfo `json:"dhcp,omitempty"`
	Health    Health    `json:"health"`
	RxBytes   uint64    `json:"rx_bytes"`
	TxBytes   uint64    `json:"tx_bytes"`
	Since     time.Time `json:"since,omitzero"` // last state change
	LastError string    `json:"last_error,omitempty"`
}

// DHCPInfo is an uplink's DHCP client and lease.
type DHCPInfo struct {
	State     string    `json:"state"`
	Server    string    `json:"server,omitempty"`
	Acquired  time.Time `json:"acquired,omitzero"`
	RenewAt   time.Time `json:"renew_at,omitzero"`
	RebindAt  time.Time `json:"rebind_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	LeaseSec  int       `json:"lease_sec,omitempty"`
	Renewals  int       `json:"renewals"`
	LastError string    `json:"last_error,omitempty"`
}

// Health is the result of an uplink's probes.
type Health struct {
	Healthy   bool      `json:"healthy"`
	Targets   []string  `json:"targets,omitempty"`
	LastOK    time.Time `json:"last_ok,omitzero"`
	LastProbe time.Time `json:"last_probe,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// LANStatus is one LAN port.
type LANStatus struct {
	Role      string `json:"role"`
	Interface string `json:"interface"`
	Address   string `json:"address"`
	Carrier   bool   `json:"carrier"`
	Error     string `json:"error,omitempty"`
	// DHCP is the port's DHCP server: "serving", "off" (dhcp.off), or
	// "not running" with DHCPError saying why.
	DHCP      string `json:"dhcp,omitempty"`
	DHCPError string `json:"dhcp_error,omitempty"`
}

// FirewallStatus says whether the ruleset is in place.
type FirewallStatus struct {
	Applied   bool      `json:"applied"`
	AppliedAt time.Time `json:"applied_at,omitzero"`
	Uplinks   []string  `json:"uplinks"`
	LAN       []string  `json:"lan"`
	Router    bool      `json:"router"`
	Error     string    `json:"error,omitempty"`
}

// Modem states, as the API shows them.
const (
	ModemDisabled     = "disabled"
	ModemAbsent       = "absent" // no modem found (yet)
	ModemOpening      = "opening"
	ModemSIM          = "sim"         // waiting for the SIM / PIN
	ModemRegistering  = "registering" // waiting for the network
	ModemConnecting   = "connecting"
	ModemConnected    = "connected"
	ModemDisconnected = "disconnected" // by an admin
	ModemFaulty       = "faulty"
	// ModemRegistered: a voice-only modem (network.modem.voice_modems)
	// is registered and ready for calls and SMS; it never connects data.
	ModemRegistered = "registered"
)

// ModemStatus is the modem as netctl drives it.
type ModemStatus struct {
	State         string                 `json:"state"`
	Device        *modemapi.Device       `json:"device,omitempty"`
	Profile       string                 `json:"profile,omitempty"`
	Identity      *modemapi.Identity     `json:"identity,omitempty"`
	SIM           *modemapi.SIMStatus    `json:"sim,omitempty"`
	Registration  *modemapi.Registration `json:"registration,omitempty"`
	Signal        *modemapi.Signal       `json:"signal,omitempty"`
	SignalHistory []SignalSample         `json:"signal_history,omitempty"`
	Link          *modemapi.LinkStatus   `json:"link,omitempty"`
	APN           string                 `json:"apn,omitempty"`
	Resets        int                    `json:"resets"`
	// Error is the last cause of trouble, kept through retries until the
	// modem is connected; ErrorTime is when it was first seen.
	Error     string    `json:"error,omitempty"`
	ErrorTime time.Time `json:"error_time,omitzero"`
	Since     time.Time `json:"since,omitzero"`
	// Slot is the mini-PCIe slot the modem sits in; nil when no modem was
	// detected.
	Slot *ModemSlot `json:"slot,omitempty"`
}

// Where a modem's slot comes from.
const (
	SlotFromConfig     = "config"      // network.modem.slot
	SlotFromUSB        = "usb"         // the board's USB map
	SlotFromGuessedUSB = "usb-guessed" // a USB map not confirmed on a real board
)

// ModemSlot says which mini-PCIe slot, and so which SIM holder, holds the
// modem.
type ModemSlot struct {
	// Name is the slot as printed on the board ("mPCIe 1"), or "unknown".
	Name string `json:"name"`
	// SIM is where that slot's SIM sits, when the board profile says.
	SIM string `json:"sim,omitempty"`
	// Source is SlotFrom*; "" when the slot is unknown.
	Source string `json:"source,omitempty"`
	// USB is where the modem's USB device hangs, when read.
	USB string `json:"usb,omitempty"`
	// Reason says why the slot is unknown.
	Reason string `json:"reason,omitempty"`
}

// SignalSample is one point of the signal history.
type SignalSample struct {
	Time   time.Time       `json:"time"`
	Signal modemapi.Signal `json:"signal"`
}

// SendSMSRequest is the body of POST /v1/sms.
type SendSMSRequest struct {
	To   string `json:"to"`
	Text string `json:"text"`
	// Slot picks the modem that sends it (a GSM status SIM's Slot); ""
	// is the data modem.
	Slot string `json:"slot,omitempty"`
}

// ATRequest is the body of POST /v1/modem/at (admins only; logged).
type ATRequest struct {
	Command string `json:"command"`
	// TimeoutSec bounds the command; 0 means 10 s.
	TimeoutSec int `json:"timeout_sec,omitempty"`
	// Unsafe lets through commands that dial, send SMS, forward calls,
	// change the APN, the radio or SIM locks (web sets it only for admin
	// scope); without it they are refused.
	Unsafe bool `json:"unsafe,omitempty"`
	// Slot sends it to the modem of that slot (a voice modem's,
	// network.modem.voice_modems); "" is the data modem.
	Slot string `json:"slot,omitempty"`
}

// PUKRequest is the body of POST /v1/modem/puk: the installer's PUK for a
// SIM blocked after three wrong PINs, and the PIN it gets. Sent once,
// never retried by the box; a wrong PUK answers 422 with the attempts
// left, none left 410.
type PUKRequest struct {
	PUK    string `json:"puk"`
	NewPIN string `json:"new_pin"`
	// Slot picks the modem as in ATRequest; "" is the data modem.
	Slot string `json:"slot,omitempty"`
}

// PUKResponse is the SIM after an accepted PUK. After a refused one, GET
// /v1/modem shows the attempts left.
type PUKResponse struct {
	SIM *modemapi.SIMStatus `json:"sim,omitempty"`
	// Warning: the SIM took the new PIN but the config could not store
	// it (what to set by hand, or the box unlocks the SIM with the old PIN
	// after a restart).
	Warning string `json:"warning,omitempty"`
}

// ATResponse is the modem's answer.
type ATResponse struct {
	Lines []string `json:"lines"`
}

// LANLease is one address the box's DHCP server gave a LAN client.
type LANLease struct {
	Interface string    `json:"interface"`
	MAC       string    `json:"mac"`
	Address   string    `json:"address"`
	Hostname  string    `json:"hostname,omitempty"`
	Expires   time.Time `json:"expires"`
}

// LANDHCPServer is the state of the DHCP server on one LAN port.
type LANDHCPServer struct {
	Interface string `json:"interface"`
	First     string `json:"first"`
	Last      string `json:"last"`
	LeaseSec  int    `json:"lease_sec"`
	Running   bool   `json:"running"`
	Error     string `json:"error,omitempty"`
}

// LANLeases is the answer of GET /v1/leases.
type LANLeases struct {
	Servers []LANDHCPServer `json:"servers"`
	Leases  []LANLease      `json:"leases"`
}

// Route is one static route through an uplink. A zero Gateway is on-link.
type Route struct {
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// Client is the typed client of netctl's API (edgectl and web use it).
type Client struct{ *localapi.Client }

// NewClient connects to /run/edgebox/netctl.sock.
func NewClient() Client { return Client{localapi.NewClient(SocketName)} }

// NewClientPath connects to netctl's API at an explicit socket path.
func NewClientPath(path string) Client { return Client{localapi.NewClientPath(path)} }

// Status returns uplinks, LAN, firewall and modemapi.
func (c Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.Get(ctx, "/v1/status", &s)
	return s, err
}

// Uplinks returns the uplinks in order of preference.
func (c Client) Uplinks(ctx context.Context) ([]UplinkStatus, error) {
	var u []UplinkStatus
	err := c.Get(ctx, "/v1/uplinks", &u)
	return u, err
}

// Modem returns the modem's state, identity, SIM, registration and signal.
func (c Client) Modem(ctx context.Context) (ModemStatus, error) {
	var m ModemStatus
	err := c.Get(ctx, "/v1/modem", &m)
	return m, err
}

// Connect brings the modem's data connection up (and keeps it up).
func (c Client) Connect(ctx context.Context) error {
	return c.Post(ctx, "/v1/modem/connect", struct{}{}, nil)
}

// Disconnect takes the modem's data connection down until Connect.
func (c Client) Disconnect(ctx context.Context) error {
	return c.Post(ctx, "/v1/modem/disconnect", struct{}{}, nil)
}

// ListSMS returns the stored messages.
func (c Client) ListSMS(ctx context.Context) ([]modemapi.SMS, error) {
	var l []modemapi.SMS
	err := c.Get(ctx, "/v1/sms", &l)
	return l, err
}

// SendSMS sends a text message.
func (c Client) SendSMS(ctx context.Context, to, text string) (modemapi.SMS, error) {
	var m modemapi.SMS
	err := c.Post(ctx, "/v1/sms", SendSMSRequest{To: to, Text: text}, &m)
	return m, err
}

// DeleteSMS removes a stored message.
func (c Client) DeleteSMS(ctx context.Context, id string) error {
	return c.Do(ctx, "DELETE", "/v1/sms/"+url.PathEscape(id), nil, nil)
}

// AT sends one AT command to the modem (admin passthrough, logged).
func (c Client) AT(ctx context.Context, cmd string) (ATResponse, error) {
	var r ATResponse
	err := c.Post(ctx, "/v1/modem/at", ATRequest{Command: cmd}, &r)
	return r, err
}

// ATRequest sends req (with Unsafe for admins) to the AT passthrough.
func (c Client) ATRequest(ctx context.Context, req ATRequest) (ATResponse, error) {
	var r ATResponse
	err := c.Post(ctx, "/v1/modem/at", req, &r)
	return r, err
}

// EnterPUK unblocks a PUK-locked SIM with puk and sets newPIN (once; the
// error says how many PUK attempts are left).
func (c Client) EnterPUK(ctx context.Context, req PUKRequest) (PUKResponse, error) {
	var r PUKResponse
	err := c.Post(ctx, "/v1/modem/puk", req, &r)
	return r, err
}

// LANLeases returns the LAN DHCP servers and their leases.
func (c Client) LANLeases(ctx context.Context) (LANLeases, error) {
	var l LANLeases
	err := c.Get(ctx, "/v1/leases", &l)
	return l, err
}
