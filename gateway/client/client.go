// Package client is a Go implementation of the gateway's signaling
// protocol (docs/gateway-protocol.md) with a pion peer connection: what a
// native app, the tests and the load generator (devtools/cmd/calldial) use to place
// calls through the box.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/gateway"
	"edgebox/internal/dtlssrtp"
	"edgebox/internal/pionlog"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Authorize asks the portal API at base ("https://box:8443") for a call
// token, as the company's web portal does.
func Authorize(ctx context.Context, hc *http.Client, base, apiKey string, req gateway.AuthorizeRequest) (gateway.AuthorizeResponse, error) {
	var out gateway.AuthorizeResponse
	body, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/calls", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("X-API-Key", apiKey)
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(hr)
	if err != nil {
		return out, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return out, err
	}
	if res.StatusCode != http.StatusCreated {
		var e struct{ Error string }
		json.Unmarshal(data, &e)
		return out, &HTTPError{Status: res.StatusCode, Message: e.Error}
	}
	return out, json.Unmarshal(data, &out)
}

// HTTPError is a refused portal request.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("portal: %d: %s", e.Status, e.Message) }

// Options shape the client's peer connection.
type Options struct {
	// Codec offered: "pcmu" (default), "pcma", "g722" or "opus".
	Codec string
	// LoopbackOnly keeps ICE on 127.0.0.1 (tests, load runs on one host).
	LoopbackOnly bool
	// TLS for wss:// to a box with a self-signed certificate.
	TLSConfig *tls.Config
	// Video adds a VP8 track (payloads from StartVideo).
	Video bool
	// RelayOnly sends all media through the TURN server the box handed
	// out (ICE transport policy "relay"), even with LoopbackOnly.
	RelayOnly bool
	// OwnSocket runs the call's ICE on a loopback socket of the client's
	// own that watches the DTLS handshake, so SRTPKeys can tell the
	// call's keys (tests playing the browser from another socket).
	OwnSocket bool
	// Auth overrides the auth message (token misuse tests); Token is set
	// from Dial's argument when empty.
	From, To string
}

// Call is one call placed through the gateway.
type Call struct {
	ID string
	// FirstSeq is where StartAudio's sequence numbers start (the first
	// packet has FirstSeq+1): tests start near 65535 to cross a wrap.
	FirstSeq uint16

	ws     *websocket.Conn
	wmu    sync.Mutex
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	events chan gateway.Message
	clock  uint32

	sent       atomic.Uint64
	received   atomic.Uint64
	echoed     atomic.Uint64 // received packets that carry our own marker
	teReceived atomic.Uint64 // received telephone-event packets
	vtrack     *webrtc.TrackLocalStaticRTP
	remoteSSRC atomic.Uint32 // of the box's audio, once it arrived
	remoteROC  atomic.Uint32 // its rollover counter so far
	keys       *dtlssrtp.Keyring
	mux        *ice.UDPMuxDefault
	vsender    *webrtc.RTPSender
	vdisabled  atomic.Bool
	vsent      atomic.Uint64
	vechoed    atomic.Uint64
	mu         sync.Mutex
	lastErr    error
	done       chan struct{}
	closeOnce  sync.Once
	ICEServers []gateway.ICEServer
}

// Marker starts every payload the client sends, so echoed audio can be
// told from other audio; VideoMarker does the same for video.
var (
	Marker      = []byte("EBX1")
	VideoMarker = []byte("EBXV")
)

// tePT is the payload type the client offers telephone-event under.
const tePT = 101

// ErrRefused is returned when the box answers auth with an error.
type ErrRefused struct{ Msg gateway.Message }

func (e *ErrRefused) Error() string { return "gateway refused: " + e.Msg.Code + ": " + e.Msg.Error }

func codecOf(name string) (webrtc.RTPCodecParameters, error) {
	switch name {
	case "", "pcmu":
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}, nil
	case "pcma":
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8}, nil
	case "g722":
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}, PayloadType: 9}, nil
	case "opus":
		return webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, nil
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("codec %q: use pcmu, pcma, g722 or opus", name)
}

// Connect opens the signaling WebSocket and authenticates; the call is
// then waiting for Offer. Most callers use Dial.
func Connect(ctx context.Context, wsURL, token string, o Options) (*Call, error) {
	hc := &http.Client{}
	if o.TLSConfig != nil {
		hc.Transport = &http.Transport{TLSClientConfig: o.TLSConfig}
	}
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return nil, fmt.Errorf("signaling: %w", err)
	}
	ws.SetReadLimit(1 << 20)
	c := &Call{ws: ws, events: make(chan gateway.Message, 64), done: make(chan struct{})}
	if err := c.Send(ctx, gateway.Message{Type: gateway.MsgAuth, Token: token, From: o.From, To: o.To}); err != nil {
		ws.CloseNow()
		return nil, err
	}
	var m gateway.Message
	if err := c.read(ctx, &m); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("signaling: %w", err)
	}
	if m.Type != gateway.MsgAuthorized {
		ws.CloseNow()
		return nil, &ErrRefused{Msg: m}
	}
	c.ID, c.ICEServers = m.CallID, m.ICEServers
	return c, nil
}

// Dial connects, authenticates with token, offers audio and keeps
// signaling in the background. Events arrive on Events().
func Dial(ctx context.Context, wsURL, token string, o Options) (*Call, error) {
	c, err := Connect(ctx, wsURL, token, o)
	if err != nil {
		return nil, err
	}
	if err := c.offer(ctx, o); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Call) offer(ctx context.Context, o Options) error {
	cp, err := codecOf(o.Codec)
	if err != nil {
		return err
	}
	c.clock = cp.ClockRate
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(cp, webrtc.RTPCodecTypeAudio); err != nil {
		return err
	}
	te := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: "audio/telephone-event", ClockRate: cp.ClockRate, SDPFmtpLine: "0-16"}, PayloadType: tePT}
	if err := me.RegisterCodec(te, webrtc.RTPCodecTypeAudio); err != nil {
		return err
	}
	vp8 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	if o.Video {
		if err := me.RegisterCodec(vp8, webrtc.RTPCodecTypeVideo); err != nil {
			return err
		}
	}
	// pion's lines for sockets closed under a call being hung up are not
	// errors of the run: they go to debug.
	se := webrtc.SettingEngine{LoggerFactory: pionlog.Factory(slog.Default())}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	if o.LoopbackOnly {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	}
	if o.OwnSocket {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		c.keys = dtlssrtp.NewKeyring()
		c.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: dtlssrtp.NewConn(u, c.keys), Logger: se.LoggerFactory.NewLogger("udpmux")})
		se.SetICEUDPMux(c.mux)
		se.SetDTLSKeyLogWriter(c.keys)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
	var servers []webrtc.ICEServer
	if !o.LoopbackOnly || o.RelayOnly {
		for _, s := range c.ICEServers {
			servers = append(servers, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	conf := webrtc.Configuration{ICEServers: servers}
	if o.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return err
	}
	c.pc = pc
	track, err := webrtc.NewTrackLocalStaticRTP(cp.RTPCodecCapability, "audio", "calldial")
	if err != nil {
		return err
	}
	if _, err := pc.AddTrack(track); err != nil {
		return err
	}
	c.track = track
	if o.Video {
		vt, err := webrtc.NewTrackLocalStaticRTP(vp8.RTPCodecCapability, "video", "calldial")
		if err != nil {
			return err
		}
		vs, err := pc.AddTrack(vt)
		if err != nil {
			return err
		}
		c.vtrack, c.vsender = vt, vs
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		video := t.Kind() == webrtc.RTPCodecTypeVideo
		buf := make([]byte, 1500)
		var last uint16 // highest sequence number of the box's audio
		have := false
		for {
			n, _, err := t.Read(buf)
			if err != nil {
				return
			}
			if !video {
				c.received.Add(1)
				c.remoteSSRC.Store(uint32(t.SSRC()))
			}
			if n >= 12 {
				var p rtp.Packet
				if p.Unmarshal(buf[:n]) == nil {
					if !video {
						if d := p.SequenceNumber - last; !have || d != 0 && d < 0x8000 {
							if have && p.SequenceNumber < last {
								c.remoteROC.Add(1)
							}
							last, have = p.SequenceNumber, true
						}
					}
					switch {
					case !video && p.PayloadType == tePT:
						c.teReceived.Add(1)
					case video && bytes.HasPrefix(p.Payload, VideoMarker):
						c.vechoed.Add(1)
					case !video && bytes.HasPrefix(p.Payload, Marker):
						c.echoed.Add(1)
					}
				}
			}
		}
	})
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		ci := cand.ToJSON()
		c.Send(context.Background(), gateway.Message{Type: gateway.MsgCandidate,
			Candidate: &gateway.Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex}})
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	if err := c.Send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: offer.SDP}); err != nil {
		return err
	}
	go c.readLoop()
	return nil
}

func (c *Call) read(ctx context.Context, m *gateway.Message) error {
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, m)
}

// Send writes one signaling message.
func (c *Call) Send(ctx context.Context, m gateway.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, b)
}

// SendRaw writes arbitrary bytes as a text message (malformed input tests).
func (c *Call) SendRaw(ctx context.Context, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *Call) readLoop() {
	defer close(c.events)
	var pending []webrtc.ICECandidateInit
	for {
		var m gateway.Message
		if err := c.read(context.Background(), &m); err != nil {
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			return
		}
		switch m.Type {
		case gateway.MsgAnswer:
			if c.vsender != nil && strings.Contains(m.SDP, "m=video 0 ") {
				// the PBX did no video: pion cannot start a track the
				// answer rejected, so take it away first
				c.pc.RemoveTrack(c.vsender)
				c.vsender = nil
				c.vdisabled.Store(true)
			}
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				m = gateway.Message{Type: gateway.MsgError, Code: "client", Error: "answer: " + err.Error()}
			}
			for _, ci := range pending {
				c.pc.AddICECandidate(ci)
			}
			pending = nil
		case gateway.MsgOffer:
			// renegotiation by the box (codec change at the PBX)
			if err := c.answerOffer(m.SDP); err != nil {
				m = gateway.Message{Type: gateway.MsgError, Code: "client", Error: "renegotiation: " + err.Error()}
			}
		case gateway.MsgCandidate:
			if m.Candidate != nil && m.Candidate.Candidate != "" {
				ci := webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex}
				if c.pc.RemoteDescription() == nil {
					pending = append(pending, ci) // early: keep until the answer
				} else {
					c.pc.AddICECandidate(ci)
				}
			}
			continue
		}
		select {
		case c.events <- m:
		default: // nobody listening: drop rather than stall signaling
		}
	}
}

func (c *Call) answerOffer(sdp string) error {
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	ans, err := c.pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(ans); err != nil {
		return err
	}
	return c.Send(context.Background(), gateway.Message{Type: gateway.MsgAnswer, SDP: c.pc.LocalDescription().SDP})
}

// Events delivers answer, event, dtmf and error messages; it is closed
// when the signaling connection ends.
func (c *Call) Events() <-chan gateway.Message { return c.events }

// WaitEvent waits for event name ("answered", "ended" ...) and returns
// it. An "ended" event while waiting for another is returned as an error.
func (c *Call) WaitEvent(ctx context.Context, name string) (gateway.Message, error) {
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				return m, fmt.Errorf("signaling closed while waiting for %q", name)
			}
			if m.Type == gateway.MsgEvent && m.Event == name {
				return m, nil
			}
			if m.Type == gateway.MsgEvent && m.Event == gateway.EventEnded {
				return m, fmt.Errorf("call ended (%d %s) while waiting for %q", m.SIPCode, m.Reason, name)
			}
		case <-ctx.Done():
			return gateway.Message{}, fmt.Errorf("waiting for %q: %w", name, ctx.Err())
		}
	}
}

// WaitMessage waits for a message of type typ.
func (c *Call) WaitMessage(ctx context.Context, typ string) (gateway.Message, error) {
	for {
		select {
		case m, ok := <-c.events:
			if !ok {
				return m, fmt.Errorf("signaling closed while waiting for %q", typ)
			}
			if m.Type == typ {
				return m, nil
			}
		case <-ctx.Done():
			return gateway.Message{}, fmt.Errorf("waiting for %q: %w", typ, ctx.Err())
		}
	}
}

// StartAudio sends a 20 ms packet with Marker in its payload until ctx
// ends or n packets went out (n <= 0: no limit).
func (c *Call) StartAudio(ctx context.Context, n int) {
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		step := c.clock / 50
		payload := make([]byte, 160)
		copy(payload, Marker)
		seq := c.FirstSeq
		var ts uint32
		for i := 0; n <= 0 || i < n; i++ {
			select {
			case <-ctx.Done():
				return
			case <-c.done:
				return
			case <-t.C:
			}
			seq++
			ts += step
			binary.BigEndian.PutUint32(payload[4:8], uint32(i))
			if err := c.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: i == 0}, Payload: payload}); err == nil {
				c.sent.Add(1)
			}
		}
	}()
}

// StartVideo sends a small VP8-typed packet with VideoMarker every 33 ms
// (not a decodable picture: the gateway passes video through untouched).
func (c *Call) StartVideo(ctx context.Context) {
	if c.vtrack == nil || c.vdisabled.Load() {
		return
	}
	go func() {
		t := time.NewTicker(33 * time.Millisecond)
		defer t.Stop()
		payload := make([]byte, 200)
		copy(payload, VideoMarker)
		var seq uint16
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-c.done:
				return
			case <-t.C:
			}
			seq++
			if err := c.vtrack.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(i) * 3000, Marker: true}, Payload: payload}); err == nil {
				c.vsent.Add(1)
			}
		}
	}()
}

// Stats are the client's packet counters.
type Stats struct {
	Sent, Received, Echoed uint64
	VideoSent, VideoEchoed uint64
	// Events counts received audio packets labelled telephone-event.
	Events uint64
}

// Stats returns packets sent, received, and received with our marker.
func (c *Call) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Received: c.received.Load(), Echoed: c.echoed.Load(),
		VideoSent: c.vsent.Load(), VideoEchoed: c.vechoed.Load(), Events: c.teReceived.Load()}
}

// DTMF asks the box to send digits to the PBX as RFC 4733 events.
func (c *Call) DTMF(ctx context.Context, digits string) error {
	return c.Send(ctx, gateway.Message{Type: gateway.MsgDTMF, Digits: digits})
}

// Hangup ends the call (BYE, or CANCEL while ringing).
func (c *Call) Hangup(ctx context.Context) error {
	return c.Send(ctx, gateway.Message{Type: gateway.MsgHangup})
}

// ConnectionState is the browser-leg state as the client sees it.
func (c *Call) ConnectionState() webrtc.PeerConnectionState {
	if c.pc == nil {
		return webrtc.PeerConnectionStateNew
	}
	return c.pc.ConnectionState()
}

// Close drops everything without hanging up politely.
func (c *Call) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		if c.pc != nil {
			err = c.pc.Close()
		}
		if c.mux != nil {
			c.mux.Close()
		}
		c.ws.Close(websocket.StatusNormalClosure, "bye")
	})
	return err
}

// Err is the error that ended signaling, if any.
func (c *Call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(c.lastErr, io.EOF) {
		return nil
	}
	return c.lastErr
}

// LocalCandidateType is the type of the local ICE candidate in use
// ("host", "srflx", "relay"), or "" before ICE has selected a pair.
func (c *Call) LocalCandidateType() string {
	if pair := c.selectedPair(); pair != nil {
		return pair.Local.Typ.String()
	}
	return ""
}

// iceTransport is the call's ICE transport, or nil before there is one.
func (c *Call) iceTransport() *webrtc.ICETransport {
	if c.pc == nil {
		return nil
	}
	for _, s := range c.pc.GetSenders() {
		if tr := s.Transport(); tr != nil {
			return tr.ICETransport()
		}
	}
	return nil
}

// selectedPair is the ICE pair in use, or nil.
func (c *Call) selectedPair() *webrtc.ICECandidatePair {
	if t := c.iceTransport(); t != nil {
		if pair, err := t.GetSelectedCandidatePair(); err == nil {
			return pair
		}
	}
	return nil
}

// ICEParams are the call's ICE credentials and the box's address in the
// selected pair: what a test needs to speak ICE to the box from another
// socket, as a browser behind a NAT that rebinds does.
type ICEParams struct {
	LocalUfrag, LocalPwd   string
	RemoteUfrag, RemotePwd string
	Remote                 netip.AddrPort
}

// ICE returns the call's ICEParams once ICE has selected a pair.
func (c *Call) ICE() (ICEParams, error) {
	var p ICEParams
	pair := c.selectedPair()
	if pair == nil {
		return p, errors.New("no ICE pair selected")
	}
	t := c.iceTransport()
	local, err := t.GetLocalParameters()
	if err != nil {
		return p, err
	}
	remote, err := t.GetRemoteParameters()
	if err != nil {
		return p, err
	}
	p.LocalUfrag, p.LocalPwd = local.UsernameFragment, local.Password
	p.RemoteUfrag, p.RemotePwd = remote.UsernameFragment, remote.Password
	addr, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return p, err
	}
	p.Remote = netip.AddrPortFrom(addr, pair.Remote.Port)
	return p, nil
}

// AudioSSRCs are the SSRCs of the audio the client sends and of the
// audio the box sends (0 before its first packet), and the rollover
// counter the box's audio reached.
func (c *Call) AudioSSRCs() (local, remote, remoteROC uint32) {
	for _, s := range c.pc.GetSenders() {
		if s.Track() == c.track {
			if p := s.GetParameters(); len(p.Encodings) > 0 {
				local = uint32(p.Encodings[0].SSRC)
			}
		}
	}
	return local, c.remoteSSRC.Load(), c.remoteROC.Load()
}

// SRTPKeys are the call's SRTP keys, in the client's role; only with
// Options.OwnSocket, once DTLS is up, and once (the keyring then forgets
// the handshake).
func (c *Call) SRTPKeys() (dtlssrtp.Keys, error) {
	if c.keys == nil {
		return dtlssrtp.Keys{}, errors.New("SRTP keys need Options.OwnSocket")
	}
	p, err := c.ICE()
	if err != nil {
		return dtlssrtp.Keys{}, err
	}
	return c.keys.KeysFor(p.Remote)
}
