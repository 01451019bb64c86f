// TypeScript types for edgebox-call-1.js (version 1.3.0), which a page
// loads with <script src="/sdk/edgebox-call-1.js">: it defines the global
// EdgeboxCall. Messages and events: docs/gateway-protocol.md.

/** An RTCIceServer as the portal API returns it (ice_servers). */
interface EdgeboxICEServer {
  urls: string[];
  username?: string;
  credential?: string;
}

interface EdgeboxCallOptions {
  /** websocket_url from POST /v1/calls */
  url: string;
  /** the one-time token from POST /v1/calls */
  token: string;
  /** ice_servers from POST /v1/calls (the box's "authorized" message wins) */
  iceServers?: EdgeboxICEServer[];
  /** plays the agent's audio */
  audio?: HTMLMediaElement | null;
}

/** Call progress (the box's "event" messages). */
type EdgeboxCallEventName =
  | "trying"
  | "ringing"
  | "early_media"
  | "answered"
  | "held"
  | "resumed"
  | "transferred"
  | "ended"
  | "waiting"
  | "incoming";

/** Error codes of the box, and "client" for a failure in the page. */
type EdgeboxErrorCode =
  | "bad_message"
  | "bad_token"
  | "auth_timeout"
  | "rate_limited"
  | "busy"
  | "unavailable"
  | "wrong_state"
  | "bad_sdp"
  | "no_codec"
  | "offer_timeout"
  | "internal"
  | "client";

/** detail of the "event" event. */
interface EdgeboxEventMessage {
  type: "event";
  event: EdgeboxCallEventName;
  /** the SIP status behind the event (ended: the INVITE's final status, 200 when answered) */
  sip_code?: number;
  /** who ended the call, the transfer target, or the SIP reason phrase */
  reason?: string;
  /** set on an "ended" the SDK made itself because the socket closed (1000, 1008, 1013) */
  close_code?: number;
  /** waiting: until when the page waits (RFC 3339, the token's expiry) */
  expires_at?: string;
  /** incoming: the caller's SIP URI and display name, the call's id, ICE servers for the answer */
  from?: string;
  display_name?: string;
  call_id?: string;
  ice_servers?: EdgeboxICEServer[];
}

/** detail of the "incoming" event: the PBX calls the waiting page. */
interface EdgeboxIncomingCall {
  /** the caller's SIP URI (sip:agent7@pbx.example.com) */
  from: string;
  /** the caller's display name, "" when none */
  display_name: string;
  call_id: string;
  /** takes the call: offers the microphone (or stream) */
  answer(stream?: MediaStream): Promise<void>;
  /** refuses the call: the PBX gets 603 Decline */
  decline(): void;
}

/** detail of the "dtmf" event: digits the agent side sent. */
interface EdgeboxDTMFMessage {
  type: "dtmf";
  digits: string;
}

/** detail of the "error" event. */
interface EdgeboxErrorMessage {
  type?: "error";
  code: EdgeboxErrorCode;
  /** what happened and what to do, in words */
  error: string;
}

/** detail of the "queue" event: where the waiting customer stands. */
interface EdgeboxQueueUpdate {
  /** place in the queue, 1 = next; 0 = unknown */
  position: number;
  /** estimated wait in seconds; 0 = unknown */
  wait_sec: number;
}

interface EdgeboxCallEventMap {
  event: CustomEvent<EdgeboxEventMessage>;
  dtmf: CustomEvent<EdgeboxDTMFMessage>;
  /** the portal (POST /v1/queue) told the box the customer's place in the queue */
  queue: CustomEvent<EdgeboxQueueUpdate>;
  error: CustomEvent<EdgeboxErrorMessage>;
  /** the agent's audio (already playing when options.audio was given) */
  track: CustomEvent<MediaStream>;
  /** the PBX calls the page that wait() connected (a callback) */
  incoming: CustomEvent<EdgeboxIncomingCall>;
  /** the signaling socket was lost during the call; the SDK takes the call over on a new one (for up to 20 s) */
  reconnecting: CustomEvent<EdgeboxCallRef>;
  /** the new socket carries the call; ICE restarts next */
  reconnected: CustomEvent<EdgeboxCallRef>;
  /** a new offer with new ICE credentials went out (network change, or the path failed) */
  ice_restart: CustomEvent<EdgeboxCallRef>;
}

/** detail of reconnecting, reconnected and ice_restart. */
interface EdgeboxCallRef {
  call_id: string | null;
}

type EdgeboxCallState = "new" | "authorized" | EdgeboxCallEventName;

declare class EdgeboxCall extends EventTarget {
  /** the SDK's version, e.g. "1.3.0" */
  static readonly version: string;

  /** throws when url or token is missing */
  constructor(opts: EdgeboxCallOptions);

  readonly url: string;
  readonly token: string;
  readonly iceServers: EdgeboxICEServer[];
  readonly audioElement: HTMLMediaElement | null;
  readonly state: EdgeboxCallState;
  /** set by "authorized" */
  readonly callId: string | null;
  readonly pc: RTCPeerConnection | null;
  readonly ws: WebSocket | null;
  readonly sender: RTCRtpSender | null;
  /** what start() sends (set by start) */
  readonly stream: MediaStream | null;
  /** the last "queue" update, null before one came */
  readonly queue: EdgeboxQueueUpdate | null;
  /** the PBX's call to a waiting page, null before one came */
  readonly incoming: EdgeboxIncomingCall | null;

  /**
   * Connects, authenticates and offers the stream (default: asks for the
   * microphone). Resolves once the offer is sent; rejects when the box
   * refuses the token or the socket fails.
   */
  start(stream?: MediaStream): Promise<void>;
  /** sends digits (0-9 * # A-D) in-band, or through the box */
  dtmf(digits: string): void;
  /** ends the call (CANCEL while ringing, BYE when answered) */
  hangup(): void;
  /**
   * Waits for a call with a callback token (POST /v1/calls "receive": true):
   * resolves once the box says "waiting"; "incoming" follows when the PBX
   * calls. Rejects when the box refuses the token or the socket fails.
   */
  wait(): Promise<void>;
  /** answers the incoming call with the microphone (or stream) */
  answer(stream?: MediaStream): Promise<void>;
  /** declines the incoming call (603 to the PBX), or stops waiting */
  decline(): void;
  /** restarts ICE with a new offer (the SDK does it itself when the path fails or after reconnecting) */
  restartIce(): Promise<void>;

  addEventListener<K extends keyof EdgeboxCallEventMap>(
    type: K,
    listener: (this: EdgeboxCall, ev: EdgeboxCallEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof EdgeboxCallEventMap>(
    type: K,
    listener: (this: EdgeboxCall, ev: EdgeboxCallEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

interface Window {
  EdgeboxCall: typeof EdgeboxCall;
}
