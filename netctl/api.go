package netctl

import "edgebox/api/netapi"

// netctl's API types and client live in the leaf package netapi, so that
// clients do not link netctl; these aliases keep the names for the server.

// SocketName is netctl's socket under /run/edgebox.
const SocketName = netapi.SocketName

// Uplink states, as the API shows them.
const (
	UplinkDisabled    = netapi.UplinkDisabled
	UplinkAbsent      = netapi.UplinkAbsent
	UplinkNoCarrier   = netapi.UplinkNoCarrier
	UplinkConfiguring = netapi.UplinkConfiguring
	UplinkProbing     = netapi.UplinkProbing
	UplinkHealthy     = netapi.UplinkHealthy
	UplinkFailed      = netapi.UplinkFailed
)

// Modem states, as the API shows them.
const (
	ModemDisabled     = netapi.ModemDisabled
	ModemAbsent       = netapi.ModemAbsent
	ModemOpening      = netapi.ModemOpening
	ModemSIM          = netapi.ModemSIM
	ModemRegistering  = netapi.ModemRegistering
	ModemConnecting   = netapi.ModemConnecting
	ModemConnected    = netapi.ModemConnected
	ModemDisconnected = netapi.ModemDisconnected
	ModemFaulty       = netapi.ModemFaulty
)

type (
	Status         = netapi.Status
	UplinkStatus   = netapi.UplinkStatus
	DHCPInfo       = netapi.DHCPInfo
	Health         = netapi.Health
	LANStatus      = netapi.LANStatus
	FirewallStatus = netapi.FirewallStatus
	ModemStatus    = netapi.ModemStatus
	SignalSample   = netapi.SignalSample
	SendSMSRequest = netapi.SendSMSRequest
	ATRequest      = netapi.ATRequest
	ATResponse     = netapi.ATResponse
	// Client is netctl's typed client; netctl's tests use it.
	Client = netapi.Client
)

// NewClientPath connects to netctl's API at an explicit socket path (tests).
func NewClientPath(path string) Client { return netapi.NewClientPath(path) }
