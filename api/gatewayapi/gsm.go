package gatewayapi

import (
	"context"
	"time"
)

// GSM call directions (GSMCall.Direction).
const (
	GSMInbound  = "in"  // a call to the SIM, passed to the PBX
	GSMOutbound = "out" // the PBX dials out through the SIM
)

// GSM call states (GSMCall.State).
const (
	GSMStateRinging   = "ringing"   // in: INVITE at the PBX; out: dialled, not yet alerting
	GSMStateAlerting  = "alerting"  // out: the far end rings (183 sent)
	GSMStateConnected = "connected" // both sides up, audio flows
	GSMStateEnded     = "ended"
)

// GSMCall is one voice call through a SIM, as the API, edgectl and the
// web dashboard show it (GET /v1/gsm/calls).
type GSMCall struct {
	ID        string `json:"id"`
	Direction string `json:"direction"` // GSMInbound or GSMOutbound
	Slot      string `json:"slot,omitempty"`
	// Number is the far end: the caller (in) or the dialled number (out);
	// "" with Withheld when the caller withheld it.
	Number      string    `json:"number,omitempty"`
	Withheld    bool      `json:"withheld,omitempty"`
	SIM         string    `json:"sim,omitempty"` // the SIM's identity in To / From
	Destination string    `json:"destination,omitempty"`
	State       string    `json:"state"`
	SIPCallID   string    `json:"sip_call_id,omitempty"`
	GSMCall     int       `json:"gsm_call,omitempty"` // the card's call index (+CLCC)
	Codec       string    `json:"codec,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	AnsweredAt  time.Time `json:"answered_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	DurationSec float64   `json:"duration_sec"` // talk time since connected
	SIPCode     int       `json:"sip_code,omitempty"`
	Reason      string    `json:"reason,omitempty"` // why it ended
	// Audio counters: frames to and from the card, RTP to and from the
	// PBX, and the jitter buffer (depth, drift measured, losses).
	Audio *GSMAudio `json:"audio,omitempty"`
}

// GSMAudio is a GSM call's media.
type GSMAudio struct {
	CardFramesIn  uint64  `json:"card_frames_in"`
	CardFramesOut uint64  `json:"card_frames_out"`
	RTPIn         uint64  `json:"rtp_in"`
	RTPOut        uint64  `json:"rtp_out"`
	DepthMS       float64 `json:"depth_ms"`
	DriftPPM      float64 `json:"drift_ppm"`
	Concealed     uint64  `json:"concealed"`
	Late          uint64  `json:"late"`
}

// GSMCalls is GET /v1/gsm/calls: the calls in progress and the last ended.
type GSMCalls struct {
	// Voice says whether the voice bridge runs; Why says why not.
	Voice  bool      `json:"voice"`
	Why    string    `json:"why,omitempty"`
	Active []GSMCall `json:"active"`
	Recent []GSMCall `json:"recent"`
	// CallsToday are the calls the PBX placed through the SIMs today
	// (all of them; per SIM in SIMs).
	CallsToday int `json:"calls_today"`
	// SIMs are gateway.gsm.sims in order, each with its modem's state.
	SIMs []GSMSIM `json:"sims,omitempty"`
}

// GSMSIM is one configured SIM as the voice bridge sees it.
type GSMSIM struct {
	Slot string `json:"slot"`
	// Identity is the SIM's number in To (in) and From (out).
	Identity   string `json:"identity"`
	Voice      bool   `json:"voice"` // its modem can carry calls
	Registered bool   `json:"registered"`
	Busy       bool   `json:"busy"` // it carries a call
	// CallsToday counts the calls the PBX placed on it today, for its
	// voice.max_calls_per_day.
	CallsToday int `json:"calls_today"`
	// Why says why it cannot carry calls.
	Why string `json:"why,omitempty"`
}

// GSMCalls returns the GSM voice calls.
func (c Client) GSMCalls(ctx context.Context) (GSMCalls, error) {
	var out GSMCalls
	err := c.Get(ctx, "/v1/gsm/calls", &out)
	return out, err
}
