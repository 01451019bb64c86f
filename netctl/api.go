package netctl

import "edgebox/api/netapi"

// netctl's API types and client live in the leaf package netapi, so that
// clients do not link netctl; these aliases keep the names for the server.

// Modem states, as the API shows them.
const (
	ModemOpening      = netapi.ModemOpening
	ModemSIM          = netapi.ModemSIM
	ModemRegistering  = netapi.ModemRegistering
	ModemConnecting   = netapi.ModemConnecting
	ModemConnected    = netapi.ModemConnected
	ModemDisconnected = netapi.ModemDisconnected
)

type (
	Status       = netapi.Status
	UplinkStatus = netapi.UplinkStatus
	ModemStatus  = netapi.ModemStatus
	ATRequest    = netapi.ATRequest
	// Client is netctl's typed client; netctl's tests use it.
	Client = netapi.Client
)

// NewClientPath connects to netctl's API at an explicit socket path (tests).
func NewClientPath(path string) Client { return netapi.NewClientPath(path) }
