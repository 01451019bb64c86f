package gateway

// The signaling protocol between a browser or app and the box, one JSON
// object per WebSocket text message. docs/gateway-protocol.md describes it
// for people; these types are its definition for Go (the server here and
// gateway/client).

// Message types sent by the client.
const (
	MsgAuth      = "auth"      // first message: Token (and optionally From, To to check)
	MsgOffer     = "offer"     // SDP offer of the browser
	MsgCandidate = "candidate" // trickled ICE candidate, both directions
	MsgDTMF      = "dtmf"      // client: Digits to send as RFC 4733; box: Digits received
	MsgHangup    = "hangup"    // client ends the call
	MsgResume    = "resume"    // first message of a new socket taking over a call: CallID and Resume
	MsgPing      = "ping"      // any time after auth: the box answers pong (a dead socket shows)
	// MsgAnswer (below) is also sent by the client: its answer to an
	// offer of the box when the PBX changed the codec mid-call.
)

// Message types sent by the box.
const (
	MsgAuthorized = "authorized" // token accepted: CallID and ICEServers
	// MsgOffer is also sent by the box: a renegotiation (codec change).
	MsgAnswer  = "answer"  // SDP answer for the browser (and the client's answer to a box offer)
	MsgEvent   = "event"   // call progress, see Event*
	MsgError   = "error"   // a request was refused; Code and Error say why
	MsgQueue   = "queue"   // the customer waits in a queue: Position, WaitSec
	MsgResumed = "resumed" // the new socket carries the call now (answer to resume)
	MsgPong    = "pong"    // answer to ping
)

// Call progress events (Message.Event).
const (
	EventTrying     = "trying"      // INVITE sent, PBX working on it (100)
	EventRinging    = "ringing"     // agent alerted (180)
	EventEarlyMedia = "early_media" // announcements or ringback audio (183 with SDP)
	EventAnswered   = "answered"    // 200 OK: talking
	EventHeld       = "held"        // the PBX put the customer on hold
	EventResumed    = "resumed"     // the PBX took the customer off hold
	EventTransfer   = "transferred" // the PBX transferred the call (REFER)
	EventEnded      = "ended"       // the call is over: SIPCode and Reason say why
	// Callbacks (callback.go): a page with a receive token waits, then the
	// PBX calls it.
	EventWaiting  = "waiting"  // receive token accepted: the page waits for the PBX's call until ExpiresAt
	EventIncoming = "incoming" // the PBX calls: From, Display, CallID, ICEServers; answer with an offer, decline with hangup
)

// Error codes (Message.Code).
const (
	CodeBadMessage   = "bad_message"   // not JSON, unknown type, missing field
	CodeBadToken     = "bad_token"     // unknown, reused, expired or mismatched token
	CodeBadSDP       = "bad_sdp"       // offer could not be used
	CodeNoCodec      = "no_codec"      // no common codec
	CodeState        = "wrong_state"   // message not valid now (offer twice, dtmf before answer)
	CodeRateLimited  = "rate_limited"  // too many attempts from this address
	CodeUnavailable  = "unavailable"   // gateway disabled or shutting down
	CodeBusy         = "busy"          // the box carries gateway.max_calls calls already; the token stays valid, retry
	CodeInternal     = "internal"      // the box failed; try again
	CodeAuthTimeout  = "auth_timeout"  // no auth message in time
	CodeOfferTimeout = "offer_timeout" // no offer in time
)

// WebSocket close reasons; docs/gateway-protocol.md lists each with its
// code (1000 CloseCallEnded; 1013 CloseBusy and CloseUnavailable; 1008
// all the others).
const (
	CloseCallEnded   = "call ended"
	CloseBadAuth     = "bad auth message"
	CloseBadToken    = "token refused"
	CloseAuthTimeout = "auth timeout"
	CloseRateLimited = "rate limited"
	CloseMalformed   = "too many malformed messages"
	CloseBusy        = "busy"
	CloseUnavailable = "gateway unavailable"
)

// Message is one signaling message. Only the fields of its Type are set.
type Message struct {
	Type string `json:"type"`

	// auth
	Token string `json:"token,omitempty"`
	// auth: Resumable asks for a Resume secret in authorized, so that the
	// client may take the call over on a new socket after a network change
	// (resume.go); authorized and resume: Resume is that secret.
	Resumable bool   `json:"resumable,omitempty"`
	Resume    string `json:"resume,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`

	// authorized
	CallID     string      `json:"call_id,omitempty"`
	ICEServers []ICEServer `json:"ice_servers,omitempty"`

	// offer, answer
	SDP string `json:"sdp,omitempty"`

	// candidate; a nil Candidate (or empty candidate string) ends the trickle
	Candidate *Candidate `json:"candidate,omitempty"`

	// dtmf: "0123456789*#ABCD"
	Digits string `json:"digits,omitempty"`

	// event; incoming also carries From (the caller's SIP URI), Display
	// (its display name), CallID and ICEServers; waiting carries ExpiresAt
	Display   string `json:"display_name,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
	Event     string `json:"event,omitempty"`
	SIPCode   int    `json:"sip_code,omitempty"`
	Reason    string `json:"reason,omitempty"`

	// queue: place in the queue (1 = next) and estimated wait in seconds
	Position int `json:"position,omitempty"`
	WaitSec  int `json:"wait_sec,omitempty"`

	// error
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// Candidate is an RTCIceCandidateInit.
type Candidate struct {
	Candidate     string  `json:"candidate"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
}

// ICEServer is an RTCIceServer for the client.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// AuthorizeRequest is the portal's POST /v1/calls body.
type AuthorizeRequest struct {
	// From is the customer's SIP identity, shown to the agent as caller ID.
	From string `json:"from"`
	// Destination is an agent's SIP URI or a queue name at the PBX.
	Destination string `json:"destination"`
	// Context travels to the agent as X- headers (customer_id -> X-Customer-Id).
	Context map[string]string `json:"context,omitempty"`
	// Receive asks for a callback token: the page waits with it and the
	// PBX calls CallbackURI (Destination stays empty; callback.go).
	Receive bool `json:"receive,omitempty"`
}

// QueueRequest is the portal's POST /v1/queue body: it tells a waiting
// customer's page where the call stands in the queue.
type QueueRequest struct {
	// Token is the one the portal got for the call (spent or not).
	Token string `json:"token"`
	// Position is the place in the queue, 1 = next; 0 = unknown.
	Position int `json:"position"`
	// WaitSec is the estimated wait in seconds; 0 = unknown.
	WaitSec int `json:"wait_sec"`
}

// AuthorizeResponse is what the portal hands the app.
type AuthorizeResponse struct {
	Token        string      `json:"token"`
	ExpiresAt    string      `json:"expires_at"` // RFC 3339
	WebSocketURL string      `json:"websocket_url"`
	ICEServers   []ICEServer `json:"ice_servers"`
	// SIP over WebSocket (RFC 7118) for JsSIP/SIP.js apps: connect to
	// SIPURL (subprotocol "sip") as sip:SIPUser@<box> with the token as the
	// digest password (docs/gateway-protocol.md).
	SIPUser string `json:"sip_user"`
	SIPURL  string `json:"sip_url"`
	// CallbackURI (receive tokens only) is what the PBX or an agent calls
	// to ring the waiting page: sip:SIPUser@<the box toward the PBX>.
	CallbackURI string `json:"callback_uri,omitempty"`
}
