package gateway

import "edgebox/api/gatewayapi"

// The API's types and client live in the leaf package gatewayapi, so that
// web and edgectl do not link pion and sipgo; these aliases keep the names
// for the server.

// SocketName is the gateway's API socket under /run/edgebox.
const SocketName = gatewayapi.SocketName

// Call states (CallInfo.State).
const (
	StateAuthorized = gatewayapi.StateAuthorized
	StateTrying     = gatewayapi.StateTrying
	StateRinging    = gatewayapi.StateRinging
	StateEarly      = gatewayapi.StateEarly
	StateAnswered   = gatewayapi.StateAnswered
	StateHeld       = gatewayapi.StateHeld
	StateEnded      = gatewayapi.StateEnded
)

type (
	CallInfo  = gatewayapi.CallInfo
	LegInfo   = gatewayapi.LegInfo
	VideoInfo = gatewayapi.VideoInfo
	Status    = gatewayapi.Status
	// Client is the gateway's typed client; the gateway's tests use it.
	Client = gatewayapi.Client
)

// NewClientPath connects to a socket at path (tests).
func NewClientPath(path string) Client { return gatewayapi.NewClientPath(path) }
