package calldial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/dtlssrtp"
	"edgebox/internal/pionlog"
	"edgebox/internal/udpbatch"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// codecSpec is what a call sends: 20 ms of the codec per packet.
type codecSpec struct {
	params  webrtc.RTPCodecParameters
	step    uint32 // timestamp units per 20 ms packet
	payload int    // bytes per packet
}

func codecOf(name string) (codecSpec, error) {
	switch name {
	case "", "pcmu":
		return codecSpec{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}, 160, 160}, nil
	case "pcma":
		return codecSpec{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8}, 160, 160}, nil
	case "opus":
		// 20 ms at about 32 kbit/s, the size a browser's voice frames have
		return codecSpec{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111}, 960, 80}, nil
	}
	return codecSpec{}, fmt.Errorf("codec %q: use pcmu, pcma or opus", name)
}

// callNet is one call's own UDP socket: the gateway and pion's mux tell
// calls apart by their address, so calls never share one. The socket is
// wrapped by dtlssrtp, which learns the call's SRTP keys from its DTLS
// handshake so the media can later be carried outside pion.
type callNet struct {
	conn *dtlssrtp.Conn
	keys *dtlssrtp.Keyring
	mux  *ice.UDPMuxDefault
}

// newCallNet opens the call's socket on ip (127.0.0.1 when not given),
// in namespace ns ("": this one); recv, shared by the run's calls,
// reads it (a goroutine woken per packet and call would cost the
// generator more than the gateway costs).
func newCallNet(recv *udpbatch.Poller, ns string, ip netip.Addr, withMux bool) (*callNet, error) {
	if !ip.IsValid() {
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	var sock *udpbatch.Socket
	err := InNetns(ns, func() (err error) {
		sock, err = udpbatch.Listen(netip.AddrPortFrom(ip, 0), false)
		return err
	})
	if err != nil {
		return nil, err
	}
	keys := dtlssrtp.NewKeyring()
	conn, err := dtlssrtp.NewConnPolled(sock, keys, recv)
	if err != nil {
		sock.Close()
		return nil, err
	}
	n := &callNet{conn: conn, keys: keys}
	if withMux {
		n.mux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: pionErrors.NewLogger("udpmux")})
	}
	return n, nil
}

// close stops the mux's reader (a pion call's) and closes the socket.
func (n *callNet) close() {
	if n.mux != nil {
		n.mux.Close()
		return
	}
	n.conn.Close()
}

// pionErrors shows pion's errors on stderr, as pion's own default does,
// but not the lines about sockets closed under a call being hung up:
// they are not errors of the run.
var pionErrors = pionlog.Factory(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))

// newAPI is one call's pion API: one codec, ICE on the call's own
// socket only, the DTLS key log to the call's keyring, no
// interceptors (the caller's own cost stays small).
func newAPI(cs codecSpec, n *callNet) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(cs.params, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: pionErrors}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	local := n.conn.LocalAddr().(*net.UDPAddr).IP
	se.SetIncludeLoopbackCandidate(local.IsLoopback())
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(local) })
	if local.IsLoopback() {
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEUDPMux(n.mux)
	se.SetDTLSKeyLogWriter(n.keys)
	// an empty registry: without one pion installs its default
	// interceptors (NACK, RTCP reports, TWCC), each with timers and
	// goroutines per call
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{})), nil
}

// callResult is how one call went.
type callResult struct {
	Answered   bool
	Failure    string        // cause when not answered, or media failure
	Setup      time.Duration // token request to 200 OK (answered event)
	FirstMedia time.Duration // token request to the first echoed packet
	Held       time.Duration
	Media      mediaResult
	// Fast is true when the call's media left pion for the dtlssrtp
	// session after the first echo; FastFailure says why it did not
	// (the call then stayed on pion's path, which is not a failure).
	Fast        bool
	FastFailure string
}

// call is one call in progress.
type call struct {
	run   *runner
	ws    *websocket.Conn
	wmu   sync.Mutex
	pc    *webrtc.PeerConnection
	net   *callNet
	media *mediaStream

	sender  *webrtc.RTPSender
	fmu     sync.Mutex // guards the fields below
	session *dtlssrtp.Session
	closed  bool
	fastErr string

	janus *janusLeg // the call's Janus session, when it goes through Janus
	lean  *leanCall // the call's lean stack, when it has no PeerConnection

	answered  chan struct{}
	connected chan struct{}
	ended     chan gateway.Message
	start     time.Time
}

func (c *call) send(ctx context.Context, m gateway.Message) error { return c.write(ctx, m) }

// write sends v as one JSON text message.
func (c *call) write(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *call) read(ctx context.Context) (gateway.Message, error) {
	var m gateway.Message
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(data, &m)
}

// place runs one call from token request to hangup.
func (r *runner) place(ctx context.Context, id int) (res callResult) {
	c := &call{run: r, answered: make(chan struct{}), connected: make(chan struct{}), ended: make(chan gateway.Message, 1), start: time.Now()}
	defer c.close()
	setupCtx, cancel := context.WithTimeout(ctx, r.opt.SetupTimeout)
	defer cancel()

	if r.opt.Janus != "" {
		var s *janusSession
		if r.janusSessions != nil {
			s = r.janusSessions[id]
			r.janusUsed[id].Store(true)
		}
		if f := c.signalJanus(setupCtx, id, s); f != "" {
			return callResult{Failure: f}
		}
	} else if f := r.portalSignal(setupCtx, c, id); f != "" {
		return callResult{Failure: f}
	}
	return r.hold(ctx, setupCtx, c)
}

// portalSignal asks the portal for a token and offers the call to the
// gateway with it.
func (r *runner) portalSignal(setupCtx context.Context, c *call, id int) (failure string) {
	tok, err := client.Authorize(setupCtx, r.hc, r.opt.Portal, r.opt.APIKey, gateway.AuthorizeRequest{
		From: r.opt.From, Destination: r.opt.Destination,
		Context: map[string]string{"calldial_call": strconv.Itoa(id)},
	})
	if err != nil {
		var he *client.HTTPError
		if errors.As(err, &he) {
			return "portal " + strconv.Itoa(he.Status)
		}
		return "portal: " + shortErr(err)
	}
	return c.signal(setupCtx, tok)
}

// hold waits for the answer and the first media, keeps the call up with
// media for the hold time, then hangs up.
func (r *runner) hold(ctx, setupCtx context.Context, c *call) (res callResult) {
	// Answered (200 OK) or ended: whichever the box says first.
	select {
	case <-c.answered:
		res.Answered = true
		res.Setup = time.Since(c.start)
	case m := <-c.ended:
		return callResult{Failure: endCause(m)}
	case <-setupCtx.Done():
		c.hangup()
		return callResult{Failure: "timeout waiting for answer"}
	}
	r.callAnswered()
	defer r.callGone()
	// Media flows once DTLS is up; the first echo closes the setup.
	select {
	case <-c.connected:
	case m := <-c.ended:
		res.Failure = "ended before media: " + endCause(m)
		return res
	case <-setupCtx.Done():
		c.hangup()
		res.Failure = "no media: ICE/DTLS did not connect"
		if _, why := c.fastState(); c.lean != nil && why != "" {
			res.Failure = "no media: " + why
		}
		return res
	}
	r.pace.add(c.media)
	holdStart := time.Now()
	if r.opt.Hold == 0 {
		return r.untilFirstEcho(setupCtx, c, res)
	}
	hold := time.NewTimer(r.opt.Hold)
	defer hold.Stop()
	// a lean call keeps the box's consent itself (no ICE agent does)
	var consent <-chan time.Time
	if c.lean != nil {
		t := time.NewTicker(leanConsentInterval)
		defer t.Stop()
		consent = t.C
	}
waitHold:
	select {
	case <-consent:
		c.lean.consent()
		goto waitHold
	case <-hold.C:
	case m := <-c.ended:
		r.pace.remove(c.media)
		res.Held = time.Since(holdStart)
		res.Media = c.media.result()
		res.Fast, res.FastFailure = c.fastState()
		res.Failure = "ended during hold: " + endCause(m)
		return res
	case <-ctx.Done():
	}
	r.pace.remove(c.media)
	res.Held = time.Since(holdStart)
	// let the last echoes come back before counting
	time.Sleep(150 * time.Millisecond)
	res.Media = c.media.result()
	res.Fast, res.FastFailure = c.fastState()
	if fm := c.media.firstEcho(); !fm.IsZero() {
		res.FirstMedia = fm.Sub(c.start)
	} else {
		res.Failure = "no media echoed"
	}
	c.hangup()
	return res
}

// untilFirstEcho is hold 0: the call hangs up as soon as its first
// media came back (token to first media is then all the box did for it,
// bar the BYE), so a set-up ramp measures set-ups and not media.
func (r *runner) untilFirstEcho(setupCtx context.Context, c *call, res callResult) callResult {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for c.media.firstEcho().IsZero() {
		select {
		case <-t.C:
			continue
		case m := <-c.ended:
			r.pace.remove(c.media)
			res.Failure = "ended before media echoed: " + endCause(m)
			return res
		case <-setupCtx.Done():
			res.Failure = "no media echoed"
		}
		break
	}
	r.pace.remove(c.media)
	res.Media = c.media.result()
	res.Fast, res.FastFailure = c.fastState()
	if fm := c.media.firstEcho(); !fm.IsZero() {
		res.FirstMedia = fm.Sub(c.start)
	}
	c.hangup()
	return res
}

// signal opens the WebSocket, authenticates, and sends a complete offer
// (candidates included: on loopback gathering is immediate, and one
// message instead of a trickle keeps the load generator cheap).
func (c *call) signal(ctx context.Context, tok gateway.AuthorizeResponse) string {
	ws, _, err := websocket.Dial(ctx, tok.WebSocketURL, &websocket.DialOptions{HTTPClient: c.run.hc})
	if err != nil {
		return "signaling: " + shortErr(err)
	}
	ws.SetReadLimit(1 << 20)
	c.ws = ws
	if err := c.send(ctx, gateway.Message{Type: gateway.MsgAuth, Token: tok.Token}); err != nil {
		return "signaling: " + shortErr(err)
	}
	m, err := c.read(ctx)
	if err != nil {
		return "signaling: " + shortErr(err)
	}
	if m.Type != gateway.MsgAuthorized {
		return "refused: " + m.Code
	}
	sdp, f := c.offer(ctx)
	if f != "" {
		return f
	}
	if err := c.send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: sdp}); err != nil {
		return "signaling: " + shortErr(err)
	}
	go c.readLoop()
	return ""
}

// offer sets up the call's socket and peer connection with one audio
// track and returns the complete offer (or the failure cause).
func (c *call) offer(ctx context.Context) (sdp, failure string) {
	if c.run.opt.Lean {
		return c.leanOffer()
	}
	cn, err := newCallNet(c.run.recv, c.run.opt.Netns, c.run.opt.LocalIP, true)
	if err != nil {
		return "", "socket: " + shortErr(err)
	}
	c.net = cn
	api, err := newAPI(c.run.codec, cn)
	if err != nil {
		return "", "peer: " + shortErr(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: c.run.certificates()})
	if err != nil {
		return "", "peer: " + shortErr(err)
	}
	c.pc = pc
	track, err := webrtc.NewTrackLocalStaticRTP(c.run.codec.params.RTPCodecCapability, "audio", "calldial")
	if err != nil {
		return "", "peer: " + shortErr(err)
	}
	c.sender, err = pc.AddTrack(track)
	if err != nil {
		return "", "peer: " + shortErr(err)
	}
	c.media = newMediaStream(track, c.run.codec, &c.run.totals)
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.media.receive(t, func(roc uint32) { c.goFast(uint32(t.SSRC()), roc) })
	})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(c.connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", "peer: " + shortErr(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", "peer: " + shortErr(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", "peer: ICE gathering timed out"
	}
	return pc.LocalDescription().SDP, ""
}

// readLoop applies the answer and the box's candidates and reports the
// answered and ended events.
func (c *call) readLoop() {
	var answered atomic.Bool
	var pending []webrtc.ICECandidateInit
	for {
		m, err := c.read(context.Background())
		if err != nil {
			select {
			case c.ended <- gateway.Message{Type: gateway.MsgEvent, Event: gateway.EventEnded, Reason: "signaling closed: " + shortErr(err)}:
			default:
			}
			return
		}
		switch m.Type {
		case gateway.MsgAnswer:
			if c.lean != nil {
				if err := c.lean.answer(m.SDP); err != nil {
					select {
					case c.ended <- gateway.Message{Type: gateway.MsgEvent, Event: gateway.EventEnded, Reason: "answer not usable: " + shortErr(err)}:
					default:
					}
					return
				}
				continue
			}
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				select {
				case c.ended <- gateway.Message{Type: gateway.MsgEvent, Event: gateway.EventEnded, Reason: "answer not usable: " + shortErr(err)}:
				default:
				}
				return
			}
			for _, ci := range pending {
				c.pc.AddICECandidate(ci)
			}
			pending = nil
		case gateway.MsgCandidate:
			if m.Candidate == nil || m.Candidate.Candidate == "" {
				continue
			}
			if c.lean != nil {
				c.lean.candidate(m.Candidate.Candidate)
				continue
			}
			ci := webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex}
			if c.pc.RemoteDescription() == nil {
				pending = append(pending, ci)
			} else {
				c.pc.AddICECandidate(ci)
			}
		case gateway.MsgEvent:
			switch m.Event {
			case gateway.EventAnswered:
				if answered.CompareAndSwap(false, true) {
					close(c.answered)
				}
			case gateway.EventEnded:
				select {
				case c.ended <- m:
				default:
				}
				return
			}
		case gateway.MsgError:
			select {
			case c.ended <- gateway.Message{Type: gateway.MsgEvent, Event: gateway.EventEnded, Reason: "error " + m.Code}:
			default:
			}
			return
		}
	}
}

// hangup asks the box to end the call and waits briefly for "ended".
func (c *call) hangup() {
	if c.ws == nil {
		return
	}
	var err error
	if c.janus != nil {
		err = c.janusHangup()
	} else {
		err = c.send(context.Background(), gateway.Message{Type: gateway.MsgHangup})
	}
	if err != nil {
		return
	}
	select {
	case <-c.ended:
	case <-time.After(5 * time.Second):
	}
}

// goFast takes the call's media off pion once the first echo came
// through it: the SRTP keys learnt from the DTLS handshake open a
// dtlssrtp session with the selected remote candidate, which from then
// on decrypts the echoes (remoteSSRC) on the socket's reader goroutine
// and encrypts what the pacer sends; remoteROC is the echo stream's
// rollover counter so far. When the keys cannot be learnt the
// call stays on pion's path and the cause is kept for the report.
func (c *call) goFast(remoteSSRC, remoteROC uint32) {
	fail := func(why string) {
		c.fmu.Lock()
		c.fastErr = why
		c.fmu.Unlock()
	}
	pair, err := c.sender.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote == nil {
		fail("no selected candidate pair")
		return
	}
	addr, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		fail("remote candidate address " + pair.Remote.Address)
		return
	}
	peer := netip.AddrPortFrom(addr, pair.Remote.Port)
	// in the role the handshake showed (the gateway answers as the DTLS
	// server, so calldial is the client; a pion answerer is the client)
	keys, err := c.net.keys.KeysFor(peer)
	if err != nil {
		// one cause for all calls, not one per address
		fail("keys: " + strings.ReplaceAll(err.Error(), peer.String(), "the gateway"))
		return
	}
	params := c.sender.GetParameters()
	if len(params.Encodings) == 0 || params.Encodings[0].SSRC == 0 {
		fail("sender has no SSRC")
		return
	}
	pt := uint8(c.run.codec.params.PayloadType)
	if len(params.Codecs) > 0 {
		pt = uint8(params.Codecs[0].PayloadType)
	}
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if c.closed {
		return
	}
	s, err := c.net.conn.NewSession(peer, keys)
	if err != nil {
		c.fastErr = "session: " + err.Error()
		return
	}
	c.session = s
	s.SetReceiveROC(remoteSSRC, remoteROC)
	s.Receive(remoteSSRC, c.media.onFastEcho)
	c.media.fast.Store(&fastPath{s: s, ssrc: uint32(params.Encodings[0].SSRC), pt: pt})
}

// fastState is whether the call's media went the fast path, or why not.
func (c *call) fastState() (bool, string) {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	if c.session != nil {
		return true, ""
	}
	if c.fastErr != "" {
		return false, c.fastErr
	}
	if c.lean != nil {
		return false, "lean: ICE/DTLS not done in time"
	}
	return false, "no echo read through pion"
}

func (c *call) close() {
	c.fmu.Lock()
	c.closed = true
	if c.session != nil {
		c.session.Close()
	}
	c.fmu.Unlock()
	if c.pc != nil {
		c.pc.Close()
	}
	if c.net != nil {
		c.net.close()
	}
	if c.ws != nil {
		c.ws.Close(websocket.StatusNormalClosure, "bye")
	}
}

// endCause names why the box ended a call: its SIP status when there is one.
func endCause(m gateway.Message) string {
	if m.SIPCode != 0 {
		return "SIP " + strconv.Itoa(m.SIPCode) + " " + m.Reason
	}
	if m.Reason != "" {
		return m.Reason
	}
	return "ended"
}

func shortErr(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
