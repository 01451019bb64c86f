package netapi

// GSM voice and SMS events for the SIP<->GSM gateway (issue 19). netctl
// owns the modem's AT port; the gateway drives calls through these calls
// and opens only the card's PCM audio port itself (GSMStatus.AudioPort).

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"edgebox/api/modemapi"
)

// GSMAudioFormat is the only PCM format of GSMStatus.AudioFormat: 8000 Hz,
// signed 16-bit little-endian, mono, 320 bytes per 20 ms frame, both
// directions, clocked by the card.
const GSMAudioFormat = "s16le/8000/mono"

// GSMEvent kinds.
const (
	// GSMIncoming: the phone rings (RING/+CRING with +CLIP). Number is the
	// caller's number, or "" with Withheld set when the caller withheld it
	// or the network could not give it (Reason then says which:
	// "withheld" or "unavailable").
	GSMIncoming = "incoming"
	// GSMAlerting: a call we dialled rings at the far end (ringback).
	GSMAlerting = "alerting"
	// GSMConnected: a call is up (answered by us or by the far end).
	GSMConnected = "connected"
	// GSMEnded: a call is over; Reason is one of the GSMEnd* values.
	GSMEnded = "ended"
	// GSMDTMF: the card reported a DTMF digit received from the far end
	// (Number holds the digit). Many cards never report them.
	GSMDTMF = "dtmf"
	// GSMSMSReceived: a received SMS, already stored durably; SMS holds it.
	GSMSMSReceived = "sms"
	// GSMSMSStatus: a delivery report. Ref is the message reference
	// returned by POST /v1/sms (SendSMSResult.Refs), Number the recipient,
	// Status one of the GSMSMS* status values, Reason the raw TP-Status
	// byte in hex ("00" delivered, "41" failed...) for the log.
	GSMSMSStatus = "sms_status"
	// GSMGap: the first event of an answer whose `after` is older than
	// the ring of kept events: events were lost (Reason says how many).
	// Its Seq is the last lost sequence number, so it sorts before the
	// events that follow it. A client should re-read GSMStatus (Calls).
	// An `after` newer than the newest event (netctl restarted and
	// numbers from 1 again) gets a gap event alone, with Seq = the newest
	// Seq: continue with after = that Seq.
	GSMGap = "gap"
)

// End reasons of a GSMEnded event.
const (
	GSMEndBusy          = "busy"           // BUSY to our ATD
	GSMEndNoAnswer      = "no_answer"      // NO ANSWER: the far end did not pick up
	GSMEndNoCarrier     = "no_carrier"     // NO CARRIER before the call was up (failed set-up)
	GSMEndNoNetwork     = "no_network"     // not registered / no service / emergency only
	GSMEndInvalidNumber = "invalid_number" // the network or card refused the number
	GSMEndRemoteHangup  = "remote_hangup"  // the far end hung up a connected or ringing call
	GSMEndLocalHangup   = "local_hangup"   // we hung up (POST /v1/gsm/hangup)
	GSMEndError         = "error"          // anything else; Reason of the event log says more
)

// Delivery report statuses of a GSMSMSStatus event.
const (
	GSMSMSDelivered = "delivered"
	GSMSMSFailed    = "failed"  // permanent: the SMSC gave up
	GSMSMSPending   = "pending" // temporary: the SMSC is still trying
)

// GSM call states of GSMCall.State (3GPP 27.007 +CLCC <stat>).
const (
	GSMCallActive   = "active"
	GSMCallHeld     = "held"
	GSMCallDialing  = "dialing"  // MO, not yet ringing
	GSMCallAlerting = "alerting" // MO, ringing at the far end
	GSMCallIncoming = "incoming" // MT, ringing here
	GSMCallWaiting  = "waiting"  // MT, while another call is up
)

// GSMStatus is GET /v1/gsm/status: the default modem's SIM (the data
// modem's, network.modem; the first voice modem's when there is no data
// modem) at the top, as one-modem clients read it, and every modem's in
// SIMs.
type GSMStatus struct {
	GSMSIMStatus
	// SIMs are the SIMs of every modem: the data modem's first, then the
	// voice modems' (network.modem.voice_modems) in config order.
	SIMs []GSMSIMStatus `json:"sims"`
	// Seq is the sequence number of the newest event so far: a client
	// that reads the status first polls events with after=Seq.
	Seq uint64 `json:"seq"`
}

// GSMSIMStatus is one modem's SIM: its slot, identity, registration,
// voice channel and calls.
type GSMSIMStatus struct {
	// Data is true for the data modem (network.modem), false for a
	// voice-only modem.
	Data bool `json:"data"`
	// Modem is the modem's state (netapi.Modem*: "registered" for a
	// voice modem ready for calls).
	Modem string `json:"modem,omitempty"`
	// Voice is true when the card can carry voice and its voice channel
	// was set up (Huawei AT^CVOICE=0, Quectel AT+QPCMV=1,0); VoiceWhy says
	// why not otherwise (no modem, card without voice, set-up failed).
	Voice    bool   `json:"voice"`
	VoiceWhy string `json:"voice_why,omitempty"`
	// AudioPort is the PCM port the gateway opens itself: a tty
	// (/dev/ttyUSBn) on hardware, a unix socket path with modemsim
	// (network.modem.audio_port overrides what the card says). Empty when
	// Voice is false.
	AudioPort string `json:"audio_port,omitempty"`
	// AudioFormat is GSMAudioFormat when AudioPort is set.
	AudioFormat string `json:"audio_format,omitempty"`
	// Slot names the card's mini-PCIe slot as network.modem.slot spells
	// it ("mpcie1"); "" when not known (the data modem on a board without
	// a USB map and no network.modem.slot). Requests name the SIM by it.
	Slot string `json:"slot,omitempty"`
	// Number is the SIM's own number (AT+CNUM), "" when the SIM does
	// not store it; IMSI identifies the SIM.
	Number string `json:"number,omitempty"`
	IMSI   string `json:"imsi,omitempty"`
	// Registered is true when the card is registered on a network (home
	// or roaming), i.e. calls can be placed.
	Registered bool `json:"registered"`
	// Calls are the calls the card knows now (+CLCC).
	Calls []GSMCall `json:"calls"`
}

// GSMCall is one call as +CLCC lists it.
type GSMCall struct {
	// Call is the card's call index (+CLCC <idx>, 1..7): the handle of
	// the call in events, answer and hangup.
	Call     int       `json:"call"`
	Incoming bool      `json:"incoming"` // MT (true) or MO (false)
	State    string    `json:"state"`    // GSMCall* value
	Number   string    `json:"number,omitempty"`
	Withheld bool      `json:"withheld,omitempty"`
	Since    time.Time `json:"since,omitzero"` // when netctl first saw it
}

// GSMEvent is one event of GET /v1/gsm/events. netctl starts collecting
// events at the first GSM API call after it started (the gateway's first
// status or events poll); SMS received since netctl started are announced
// then too, older ones only stay stored (GET /v1/sms).
type GSMEvent struct {
	// Seq grows by one per event, starting at 1 when netctl starts; one
	// sequence for all modems.
	Seq uint64 `json:"seq"`
	// Slot is the SIM's slot (GSMSIMStatus.Slot) the event happened on:
	// calls and their indexes are per modem.
	Slot string    `json:"slot,omitempty"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // GSMIncoming...
	// Call is the +CLCC index of the call; 0 for SMS and gap events.
	Call     int    `json:"call,omitempty"`
	Number   string `json:"number,omitempty"`
	Withheld bool   `json:"withheld,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// SMS is the received message of a GSMSMSReceived event.
	SMS *modemapi.SMS `json:"sms,omitempty"`
	// Ref and Status belong to GSMSMSStatus events.
	Ref    int    `json:"ref,omitempty"`
	Status string `json:"status,omitempty"`
}

// GSMCallRequest is the body of POST /v1/gsm/answer and /v1/gsm/hangup.
// For hangup, Call 0 hangs up every call of the modem. Slot, in every
// request, names the modem (GSMSIMStatus.Slot); "" is the default one
// (the data modem), as before there were several.
type GSMCallRequest struct {
	Slot string `json:"slot,omitempty"`
	Call int    `json:"call"`
}

// GSMDialRequest is the body of POST /v1/gsm/dial. Number is "+" and
// digits only; netctl does not apply any allow-list (the gateway does).
type GSMDialRequest struct {
	Slot   string `json:"slot,omitempty"`
	Number string `json:"number"`
}

// GSMDialResult is the answer of POST /v1/gsm/dial. When the card took
// the ATD, Call is the new call's index and its progress comes as events
// (alerting, connected, ended) — possibly before this answer arrives, so
// a client keeps events of unknown calls for a moment. When the card
// refused the dial at once (no network, invalid number, busy signalled
// as the final reply), Call is 0 and Ended holds the GSMEnd* reason; no
// event follows.
type GSMDialResult struct {
	Call  int    `json:"call"`
	Ended string `json:"ended,omitempty"`
}

// GSMDTMFRequest is the body of POST /v1/gsm/dtmf: digits 0-9 * # A-D,
// sent in order to the active call (AT+VTS).
type GSMDTMFRequest struct {
	Slot   string `json:"slot,omitempty"`
	Digits string `json:"digits"`
}

// SendSMSResult is the answer of POST /v1/sms: the stored message and the
// TP message reference of each part (AT+CMGS), in order. Status reports
// are requested for every part; a GSMSMSStatus event with Ref arrives
// per part when the SMSC reports delivery.
type SendSMSResult struct {
	modemapi.SMS
	Refs []int `json:"refs,omitempty"`
}

// GSMMaxWait is the longest wait GSMEvents asks the server to hold
// (the HTTP client gives up after 30 s).
const GSMMaxWait = 25 * time.Second

// GSMStatus returns the card's voice ability, audio port, identity and
// current calls.
func (c Client) GSMStatus(ctx context.Context) (GSMStatus, error) {
	var s GSMStatus
	err := c.Get(ctx, "/v1/gsm/status", &s)
	return s, err
}

// GSMEvents returns the events with Seq > after, waiting up to wait
// (capped at GSMMaxWait) for the first one; an empty slice means none
// came in time. Pass the last Seq seen as the next after.
func (c Client) GSMEvents(ctx context.Context, after uint64, wait time.Duration) ([]GSMEvent, error) {
	if wait > GSMMaxWait {
		wait = GSMMaxWait
	}
	if wait < 0 {
		wait = 0
	}
	var ev []GSMEvent
	err := c.Get(ctx, fmt.Sprintf("/v1/gsm/events?after=%d&wait=%s", after, wait), &ev)
	return ev, err
}

// GSMAnswer answers the ringing incoming call (ATA) on the default modem.
func (c Client) GSMAnswer(ctx context.Context, call int) error { return c.GSMAnswerOn(ctx, "", call) }

// GSMAnswerOn answers the ringing call on the modem of slot.
func (c Client) GSMAnswerOn(ctx context.Context, slot string, call int) error {
	return c.Post(ctx, "/v1/gsm/answer", GSMCallRequest{Slot: slot, Call: call}, nil)
}

// GSMDial places a voice call (ATD<number>;) on the default modem.
func (c Client) GSMDial(ctx context.Context, number string) (GSMDialResult, error) {
	return c.GSMDialOn(ctx, "", number)
}

// GSMDialOn places a voice call on the modem of slot.
func (c Client) GSMDialOn(ctx context.Context, slot, number string) (GSMDialResult, error) {
	var r GSMDialResult
	err := c.Post(ctx, "/v1/gsm/dial", GSMDialRequest{Slot: slot, Number: number}, &r)
	return r, err
}

// GSMHangup hangs up call: AT+CHUP (ATH when the card lacks it) when it
// is the only call, else AT+CHLD=1<call>; 0 hangs up every call. On the
// default modem.
func (c Client) GSMHangup(ctx context.Context, call int) error { return c.GSMHangupOn(ctx, "", call) }

// GSMHangupOn hangs up call on the modem of slot.
func (c Client) GSMHangupOn(ctx context.Context, slot string, call int) error {
	return c.Post(ctx, "/v1/gsm/hangup", GSMCallRequest{Slot: slot, Call: call}, nil)
}

// GSMDTMF sends DTMF digits on the active call (AT+VTS) of the default
// modem.
func (c Client) GSMDTMF(ctx context.Context, digits string) error {
	return c.GSMDTMFOn(ctx, "", digits)
}

// GSMDTMFOn sends DTMF digits on the active call of the modem of slot.
func (c Client) GSMDTMFOn(ctx context.Context, slot, digits string) error {
	return c.Post(ctx, "/v1/gsm/dtmf", GSMDTMFRequest{Slot: slot, Digits: digits}, nil)
}

// SendSMSReport sends a text message like SendSMS and returns the message
// references that delivery reports (GSMSMSStatus events) will carry.
func (c Client) SendSMSReport(ctx context.Context, to, text string) (SendSMSResult, error) {
	return c.SendSMSReportOn(ctx, "", to, text)
}

// SendSMSReportOn is SendSMSReport through the modem of slot; its
// reports' events carry that slot.
func (c Client) SendSMSReportOn(ctx context.Context, slot, to, text string) (SendSMSResult, error) {
	var r SendSMSResult
	err := c.Post(ctx, "/v1/sms", SendSMSRequest{To: to, Text: text, Slot: slot}, &r)
	return r, err
}

// ListSMSOn returns the messages stored by the modem of slot ("" the
// default one, as ListSMS).
func (c Client) ListSMSOn(ctx context.Context, slot string) ([]modemapi.SMS, error) {
	var l []modemapi.SMS
	err := c.Get(ctx, "/v1/sms?slot="+url.QueryEscape(slot), &l)
	return l, err
}
