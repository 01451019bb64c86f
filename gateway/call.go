package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// Timeouts of a call's setup.
const (
	offerTimeout    = 30 * time.Second
	answerTimeout   = 3 * time.Minute // ringing an agent queue can take a while
	byeTimeout      = 5 * time.Second
	transferTimeout = 45 * time.Second
	maxCandidates   = 64
)

// pbxRequest is a request the PBX sent within a call's dialog.
type pbxRequest struct {
	req *sip.Request
	tx  sip.ServerTransaction
}

// inviteEvent is a response to the call's INVITE, or the end of waiting.
type inviteEvent struct {
	res   *sip.Response
	final bool
	err   error
}

// signaler is the client side of a call (the WebSocket).
type signaler interface {
	send(m Message) error
}

// Call bridges one authorised WebRTC session to one SIP dialog. Its run
// goroutine owns the call's state; others reach it through the channels.
type Call struct {
	ID    string
	svc   *Service
	log   *slog.Logger
	grant CallGrant
	sig   signaler
	cfg   config.Gateway // config when the call started: a reload does not touch it

	in     chan Message    // from the client; closed when the client is gone
	pbxIn  chan pbxRequest // in-dialog requests from the PBX
	pcDown chan string     // browser leg failed
	hangup chan string     // API hangup
	done   chan struct{}

	// owned by run
	offerSDP   string
	offer      *sdpInfo
	pbx        *pbxLeg
	pc         *webrtc.PeerConnection
	plan       *bridgePlan
	dialog     *sipgo.DialogClientSession
	cands      []webrtc.ICECandidateInit
	sessID     uint64
	sdpVer     uint64
	pbxCodecs  []codec
	answered   bool
	held       bool
	dtmfq      chan string
	dtmfOnce   sync.Once
	stopMedia  chan struct{}
	browserIn  streamStats
	browserOut streamStats
	mediaWG    sync.WaitGroup
	video      *videoBridge // nil unless both sides do video
	audioTR    *webrtc.RTPTransceiver
	audioTrack atomic.Pointer[relayTrack] // read by the relay
	videoOffer []codec                    // browser video codecs offered to the PBX
	web        *webrtcHost                // the host the browser leg runs on
	// recvMu serialises the browser audio's receive statistics between
	// pion's path and the fast path while the call moves over
	recvMu    sync.Mutex
	fastAudio atomic.Pointer[fastAudio]

	mu   sync.Mutex
	info CallInfo
}

func newCall(svc *Service, id string, g CallGrant, sig signaler, cfg config.Gateway) *Call {
	c := &Call{
		ID: id, svc: svc, grant: g, sig: sig, cfg: cfg,
		log:       svc.log.With("call", id),
		in:        make(chan Message, 8), // 216 bytes each, per call: the reader waits when full
		pbxIn:     make(chan pbxRequest, 8),
		pcDown:    make(chan string, 1),
		hangup:    make(chan string, 1),
		done:      make(chan struct{}),
		dtmfq:     make(chan string, 8),
		stopMedia: make(chan struct{}),
		sessID:    newSessionID(),
	}
	c.info = CallInfo{ID: id, From: g.From, Destination: g.Destination, Context: g.Context, State: StateAuthorized, StartedAt: time.Now()}
	return c
}

// snapshot is the call as the API shows it.
func (c *Call) snapshot() CallInfo {
	c.mu.Lock()
	ci := c.info
	pbx := c.pbx
	video := c.video
	c.mu.Unlock()
	ci.Browser.In = c.browserIn.snapshot()
	ci.Browser.Out = c.browserOut.snapshot()
	if pbx != nil {
		ci.PBX.In = pbx.recv.snapshot()
		ci.PBX.Out = pbx.send.stats.snapshot()
		pbx.mu.Lock()
		if ci.PBX.Out.Lost == 0 {
			ci.PBX.Out.Lost = int64(pbx.remoteLost)
		}
		pbx.mu.Unlock()
	}
	if ci.Video != nil && video != nil {
		v := *ci.Video
		v.Browser.In, v.Browser.Out = video.browserIn.snapshot(), video.browserOut.snapshot()
		v.PBX.In, v.PBX.Out = video.leg.recv.snapshot(), video.leg.send.stats.snapshot()
		ci.Video = &v
	}
	if !ci.AnsweredAt.IsZero() {
		end := ci.EndedAt
		if end.IsZero() {
			end = time.Now()
		}
		ci.DurationSec = end.Sub(ci.AnsweredAt).Seconds()
	}
	return ci
}

func (c *Call) setState(s string) {
	c.mu.Lock()
	c.info.State = s
	if s == StateAnswered && c.info.AnsweredAt.IsZero() {
		c.info.AnsweredAt = time.Now()
	}
	c.mu.Unlock()
}

func (c *Call) event(ev string, code int, reason string) {
	c.sig.send(Message{Type: MsgEvent, Event: ev, SIPCode: code, Reason: reason})
}

func (c *Call) refuse(code, text string) {
	c.sig.send(Message{Type: MsgError, Code: code, Error: text})
}

// fromPBX hands an in-dialog request to the call; if the call is ending
// it is answered here.
func (c *Call) fromPBX(r pbxRequest) {
	select {
	case c.pbxIn <- r:
	case <-c.done:
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 481, "Call/Transaction Does Not Exist", nil))
	case <-time.After(2 * time.Second):
		// the call is busy (a transfer in progress): ask to retry
		res := sip.NewResponseFromRequest(r.req, 500, "Server Internal Error", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "1"))
		r.tx.Respond(res)
	}
}

// requestHangup is the API's way to end the call.
func (c *Call) requestHangup(reason string) {
	select {
	case c.hangup <- reason:
	default:
	}
}

// end records how the call ended and tells the client.
func (c *Call) end(code int, reason string) {
	c.mu.Lock()
	if c.info.State != StateEnded {
		c.info.State = StateEnded
		c.info.EndedAt = time.Now()
		c.info.SIPCode = code
		c.info.Reason = reason
	}
	c.mu.Unlock()
	c.event(EventEnded, code, reason)
}

// run drives the call to its end.
func (c *Call) run(ctx context.Context) {
	defer c.cleanup()
	if !c.waitOffer(ctx) {
		return
	}
	c.dial(ctx)
}

// waitOffer collects the offer (and early candidates).
func (c *Call) waitOffer(ctx context.Context) bool {
	t := time.NewTimer(offerTimeout)
	defer t.Stop()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.end(0, "client left before the offer")
				return false
			}
			switch m.Type {
			case MsgOffer:
				if err := c.takeOffer(m.SDP); err != nil {
					c.refuse(CodeBadSDP, err.Error())
					c.end(0, "bad offer: "+err.Error())
					return false
				}
				return true
			case MsgCandidate:
				c.addCandidate(m.Candidate)
			case MsgHangup:
				c.end(0, "client hung up")
				return false
			default:
				c.refuse(CodeState, fmt.Sprintf("%q before the offer", m.Type))
			}
		case <-t.C:
			c.refuse(CodeOfferTimeout, "no offer within 30 s")
			c.end(0, "no offer")
			return false
		case r := <-c.hangup:
			c.end(0, r)
			return false
		case <-ctx.Done():
			c.end(503, "gateway shutting down")
			return false
		}
	}
}

func (c *Call) takeOffer(raw string) error {
	if raw == "" {
		return errors.New("offer without sdp")
	}
	info, err := parseSDP(raw)
	if err != nil {
		return err
	}
	// The browser's own checks will run on the real peer connection; here
	// only what the PBX leg needs.
	c.pbxCodecs = pbxOfferCodecs(info.Audio, c.cfg.Media.Codecs)
	if len(c.pbxCodecs) == 0 {
		return fmt.Errorf("no common audio codec: the box bridges %s", strings.Join(c.cfg.Media.Codecs, ", "))
	}
	if !strings.Contains(raw, "a=fingerprint:") {
		return errors.New("offer has no DTLS fingerprint")
	}
	if c.cfg.Media.Video && info.Video != nil && info.Video.Port != 0 {
		c.videoOffer = videoCodecs(info.Video)
	}
	c.offerSDP, c.offer = raw, info
	return nil
}

func (c *Call) addCandidate(cand *Candidate) {
	if cand == nil || cand.Candidate == "" {
		return // end of candidates: nothing to do for pion
	}
	init := webrtc.ICECandidateInit{Candidate: cand.Candidate, SDPMid: cand.SDPMid, SDPMLineIndex: cand.SDPMLineIndex}
	if c.pc == nil {
		if len(c.cands) < maxCandidates {
			c.cands = append(c.cands, init)
		}
		return
	}
	if err := c.pc.AddICECandidate(init); err != nil {
		c.refuse(CodeBadMessage, "candidate: "+err.Error())
	}
}

// localRTPAddr is the PBX-side media address of the box.
func (c *Call) localRTPAddr() netip.Addr {
	if c.cfg.Media.RTPAddress != "" {
		a, _ := netip.ParseAddr(c.cfg.Media.RTPAddress)
		return a
	}
	a, err := netip.ParseAddr(localIPToward(c.cfg.PBX.HostPort()))
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a
}

func (c *Call) pbxSDP(dir string) []byte {
	c.sdpVer++
	p := plainSDP{SessionID: c.sessID, Version: c.sdpVer, Addr: c.pbx.local.Addr(),
		Audio: plainMedia{Port: int(c.pbx.local.Port()), Codecs: c.pbxCodecs, Direction: dir}}
	if c.plan != nil {
		// after the answer: only what is bridged
		cs := []codec{{Name: c.plan.Browser.Name, PT: c.plan.PBXPT, Clock: c.plan.Browser.Clock, Channels: c.plan.Browser.Channels, Fmtp: c.plan.Browser.Fmtp}}
		if c.plan.TE != nil {
			cs = append(cs, codec{Name: "telephone-event", PT: c.plan.PBXTEPT, Clock: c.plan.TE.Clock, Channels: 1, Fmtp: c.plan.TE.Fmtp})
		}
		p.Audio.Codecs = cs
	}
	if c.video != nil {
		vc := c.videoOffer
		if c.video.plan != nil {
			b := c.video.plan.Browser
			vc = []codec{{Name: b.Name, PT: c.video.plan.PBXPT, Clock: b.Clock, Channels: b.Channels, Fmtp: b.Fmtp}}
		}
		p.Video = &plainMedia{Port: int(c.video.leg.local.Port()), Codecs: vc, Direction: dir}
	}
	return []byte(p.String())
}

// dial places the INVITE and runs the call until it ends.
func (c *Call) dial(ctx context.Context) {
	ip := c.localRTPAddr()
	leg, err := openPBXLeg(c.svc.ports, ip)
	if err != nil {
		c.refuse(CodeInternal, err.Error())
		c.end(503, "no media port")
		return
	}
	c.mu.Lock()
	c.pbx = leg
	c.info.PBX.Local = leg.local.String()
	c.mu.Unlock()
	if len(c.videoOffer) > 0 {
		vleg, err := openPBXLeg(c.svc.ports, ip)
		if err != nil {
			c.log.Warn("no port pair for video: audio only", "err", err)
			c.videoOffer = nil
		} else {
			c.mu.Lock()
			c.video = &videoBridge{leg: vleg}
			c.mu.Unlock()
		}
	}

	req, dua, err := c.svc.sip.newInvite(c.grant, c.cfg.PBX, c.pbxSDP("sendrecv"))
	if err != nil {
		c.refuse(CodeInternal, err.Error())
		c.end(0, err.Error())
		return
	}
	sipID := req.CallID()
	if sipID == nil {
		id := sip.CallIDHeader(sip.GenerateTagN(24))
		req.AppendHeader(&id)
		sipID = &id
	}
	c.mu.Lock()
	c.info.SIPCallID = sipID.Value()
	c.info.PBX.Remote = c.cfg.PBX.HostPort()
	c.mu.Unlock()
	c.svc.bindSIP(sipID.Value(), c)

	inviteCtx, cancelInvite := context.WithTimeout(ctx, answerTimeout)
	defer cancelInvite()
	dlg, err := dua.WriteInvite(inviteCtx, req)
	if err != nil {
		c.refuse(CodeInternal, "INVITE: "+err.Error())
		c.end(503, "INVITE not sent: "+err.Error())
		return
	}
	c.dialog = dlg
	events := make(chan inviteEvent, 16)
	go func() {
		err := dlg.WaitAnswer(inviteCtx, sipgo.AnswerOptions{
			Username: c.cfg.Trunk.Username,
			Password: c.cfg.Trunk.Password,
			OnResponse: func(res *sip.Response) error {
				events <- inviteEvent{res: res}
				return nil
			},
		})
		events <- inviteEvent{final: true, err: err}
	}()

	// Ringing: until the final response.
	canceled := ""
	for !c.answered {
		select {
		case ev := <-events:
			if !ev.final {
				c.onProvisional(ev.res)
				continue
			}
			if ev.err == nil {
				if err := c.onAnswer(ctx); err != nil {
					c.bye()
					c.end(488, "answer not usable: "+err.Error())
					return
				}
				continue
			}
			var de *sipgo.ErrDialogResponse
			if errors.As(ev.err, &de) {
				c.end(de.Res.StatusCode, de.Res.Reason)
				return
			}
			if canceled != "" {
				// a 200 may have crossed our CANCEL
				if r := dlg.InviteResponse; r != nil && r.IsSuccess() {
					dlg.Ack(context.Background())
					c.bye()
				}
				c.end(487, canceled)
				return
			}
			if errors.Is(ev.err, context.DeadlineExceeded) {
				c.end(408, "no answer in time")
				return
			}
			c.end(503, "INVITE failed: "+ev.err.Error())
			return
		case m, ok := <-c.in:
			if !ok {
				if canceled == "" {
					canceled = "client left while ringing"
					cancelInvite()
				}
				c.in = nil
				continue
			}
			switch m.Type {
			case MsgHangup:
				if canceled == "" {
					canceled = "client hung up while ringing"
					cancelInvite()
				}
			case MsgCandidate:
				c.addCandidate(m.Candidate)
			case MsgDTMF:
				c.queueDTMF(m.Digits)
			default:
				c.refuse(CodeState, fmt.Sprintf("%q while ringing", m.Type))
			}
		case r := <-c.pbxIn:
			c.onPBXRequest(r)
			if c.info.State == StateEnded {
				return
			}
		case r := <-c.hangup:
			if canceled == "" {
				canceled = r
				cancelInvite()
			}
		case why := <-c.pcDown:
			if canceled == "" {
				canceled = why
				cancelInvite()
			}
		}
	}

	// Talking.
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.bye()
				c.end(200, "client left")
				return
			}
			switch m.Type {
			case MsgHangup:
				c.bye()
				c.end(200, "client hung up")
				return
			case MsgCandidate:
				c.addCandidate(m.Candidate)
			case MsgDTMF:
				c.queueDTMF(m.Digits)
			default:
				c.refuse(CodeState, fmt.Sprintf("%q during the call", m.Type))
			}
		case r := <-c.pbxIn:
			c.onPBXRequest(r)
			if c.snapshotState() == StateEnded {
				return
			}
		case r := <-c.hangup:
			c.bye()
			c.end(200, r)
			return
		case why := <-c.pcDown:
			c.bye()
			c.end(200, why)
			return
		case <-c.dialog.Context().Done():
			// sipgo ended the dialog (ACK retransmission failed ...); the
			// expression is evaluated per loop, so a transfer switches it
			c.end(200, "dialog ended")
			return
		case <-ctx.Done():
			c.bye()
			c.end(503, "gateway shutting down")
			return
		}
	}
}

func (c *Call) snapshotState() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.State
}

func (c *Call) onProvisional(res *sip.Response) {
	switch {
	case res.StatusCode == 100:
		c.setState(StateTrying)
		c.event(EventTrying, 100, res.Reason)
	case res.StatusCode == 180 || (res.StatusCode == 183 && len(res.Body()) == 0):
		c.setState(StateRinging)
		c.event(EventRinging, res.StatusCode, res.Reason)
		if len(res.Body()) > 0 && c.plan == nil {
			c.earlyMedia(res)
		}
	case res.StatusCode == 183:
		c.earlyMedia(res)
	case res.StatusCode >= 101 && res.StatusCode < 200:
		c.event(EventRinging, res.StatusCode, res.Reason)
	}
}

func (c *Call) earlyMedia(res *sip.Response) {
	if c.plan != nil {
		return
	}
	if err := c.startMedia(res.Body()); err != nil {
		c.log.Warn("early media not usable", "err", err)
		return
	}
	c.setState(StateEarly)
	c.event(EventEarlyMedia, res.StatusCode, res.Reason)
}

func (c *Call) onAnswer(ctx context.Context) error {
	res := c.dialog.InviteResponse
	if err := c.dialog.Ack(ctx); err != nil {
		return fmt.Errorf("ACK: %w", err)
	}
	if c.plan == nil {
		if err := c.startMedia(res.Body()); err != nil {
			return err
		}
	} else if len(res.Body()) > 0 {
		// the 200's SDP is the one that counts when it differs from 183's
		if info, err := parseSDP(string(res.Body())); err == nil {
			if plan, err := planBridge(c.offer.Audio, info.Audio); err == nil && plan.Browser.PT == c.plan.Browser.PT {
				c.plan = plan
				c.pbx.apply(plan)
			}
		}
	}
	c.answered = true
	c.setState(StateAnswered)
	c.event(EventAnswered, 200, res.Reason)
	return nil
}

// startMedia builds both media legs from the PBX's SDP and answers the
// browser.
func (c *Call) startMedia(pbxSDP []byte) error {
	info, err := parseSDP(string(pbxSDP))
	if err != nil {
		return err
	}
	plan, err := planBridge(c.offer.Audio, info.Audio)
	if err != nil {
		return err
	}
	var video []codec
	if c.video != nil && info.Video != nil && info.Video.Port != 0 {
		if vplan, err := planBridge(c.offer.Video, info.Video); err == nil {
			c.video.plan = vplan
			c.video.leg.apply(vplan)
			video = []codec{vplan.Browser}
		} else {
			c.log.Info("video not bridged", "err", err)
		}
	}
	c.web = c.svc.web
	pc, err := c.web.newPeer(c.pbxCodecs, video)
	if err != nil {
		return fmt.Errorf("browser leg: %w", err)
	}
	c.pc = pc
	c.plan = plan
	c.pbx.apply(plan)
	c.mu.Lock()
	c.info.Codec = plan.Browser.Name
	c.info.PBX.Remote = plan.Remote.String()
	c.mu.Unlock()

	// Candidates gathered before the answer went out wait for it: a client
	// cannot add a candidate before it has the answer.
	var candMu sync.Mutex
	var answerSent bool
	var early []Message
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		m := Message{Type: MsgCandidate, Candidate: &Candidate{}}
		if cand != nil {
			ci := cand.ToJSON()
			m.Candidate = &Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex}
		}
		candMu.Lock()
		defer candMu.Unlock()
		if !answerSent {
			early = append(early, m)
			return
		}
		c.sig.send(m)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		c.log.Debug("browser leg", "state", s.String())
		if s == webrtc.PeerConnectionStateFailed {
			select {
			case c.pcDown <- "browser connection failed":
			default:
			}
		}
	})
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		switch {
		case t.Kind() == webrtc.RTPCodecTypeAudio:
			c.mediaWG.Add(1)
			go c.relayFromBrowser(t, &c.pbx.send, &c.browserIn, true)
		case t.Kind() == webrtc.RTPCodecTypeVideo && c.video != nil && c.video.plan != nil:
			c.video.browserSSRC.Store(uint32(t.SSRC()))
			c.mediaWG.Add(1)
			go c.relayFromBrowser(t, &c.video.leg.send, &c.video.browserIn, false)
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: c.offerSDP}); err != nil {
		return fmt.Errorf("browser offer: %w", err)
	}
	for _, cand := range c.cands {
		pc.AddICECandidate(cand)
	}
	c.cands = nil
	for _, tr := range pc.GetTransceivers() {
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			if err := tr.SetCodecPreferences(audioPreferences(plan)); err != nil {
				return fmt.Errorf("browser leg codec: %w", err)
			}
			c.audioTR = tr
			break
		}
	}
	p, _ := codecParams(plan.Browser)
	track := newRelayTrack(p, webrtc.RTPCodecTypeAudio)
	sender, err := pc.AddTrack(track)
	if err != nil {
		return fmt.Errorf("browser leg track: %w", err)
	}
	c.audioTrack.Store(track)
	go func() {
		// reading lets the RTCP interceptors see the browser's reports
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	if c.video != nil && c.video.plan != nil {
		vp, _ := codecParams(c.video.plan.Browser)
		vtrack := newRelayTrack(vp, webrtc.RTPCodecTypeVideo)
		vsender, err := pc.AddTrack(vtrack)
		if err != nil {
			return fmt.Errorf("browser leg video track: %w", err)
		}
		c.video.track = vtrack
		c.video.sender = vsender
		c.mu.Lock()
		c.info.Video = &VideoInfo{Codec: c.video.plan.Browser.Name}
		c.mu.Unlock()
		go c.video.forwardKeyframeRequests(vsender, c.stopMedia)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("browser answer: %w", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("browser answer: %w", err)
	}
	candMu.Lock()
	c.log.Debug("browser answer", "sdp", pc.LocalDescription().SDP)
	c.sig.send(Message{Type: MsgAnswer, SDP: pc.LocalDescription().SDP})
	for _, m := range early {
		c.sig.send(m)
	}
	answerSent = true
	candMu.Unlock()

	if err := c.relayFromPBX(c.pbx, &c.audioTrack, &c.browserOut, true); err != nil {
		return fmt.Errorf("PBX leg: %w", err)
	}
	if err := c.pbx.readRTCP(); err != nil {
		return fmt.Errorf("PBX leg: %w", err)
	}
	var videoLeg *pbxLeg
	if c.video != nil && c.video.track != nil {
		c.video.leg.onPLI = func() { c.video.askBrowserForKeyframe(pc) }
		c.video.trackPtr.Store(c.video.track)
		if err := c.relayFromPBX(c.video.leg, &c.video.trackPtr, &c.video.browserOut, false); err != nil {
			return fmt.Errorf("PBX video leg: %w", err)
		}
		if err := c.video.leg.readRTCP(); err != nil {
			return fmt.Errorf("PBX video leg: %w", err)
		}
		videoLeg = c.video.leg
	}
	c.mediaWG.Add(1)
	go c.sendReports(pc, videoLeg, 5*time.Second)
	return nil
}

// sendReports is the call's one RTCP timer: every interval until the
// media stops it sends the PBX legs' sender reports and the receiver
// report on the browser's streams, made from the relay's statistics
// (RTCP terminated per leg).
func (c *Call) sendReports(pc *webrtc.PeerConnection, videoLeg *pbxLeg, every time.Duration) {
	defer c.mediaWG.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	audioOpen, videoOpen := true, videoLeg != nil
	for {
		select {
		case <-c.stopMedia:
			return
		case <-t.C:
		}
		if audioOpen {
			audioOpen = c.pbx.sendReport()
		}
		if videoOpen {
			videoOpen = videoLeg.sendReport()
		}
		c.sendBrowserReports(pc)
	}
}

// sendBrowserReports sends the browser leg's RTCP: a sender report per
// stream the box sends (first one carrying the reception reports on the
// browser's streams), or a receiver report when the box sent nothing yet.
func (c *Call) sendBrowserReports(pc *webrtc.PeerConnection) {
	now := time.Now()
	var blocks []rtcp.ReceptionReport
	if r, ok := c.browserIn.receptionReport(); ok {
		blocks = append(blocks, r)
	}
	if c.video != nil {
		if r, ok := c.video.browserIn.receptionReport(); ok {
			blocks = append(blocks, r)
		}
	}
	var pkts []rtcp.Packet
	if c.audioTR != nil {
		// the PBX leg's clock is the bridged codec's, set once before the
		// media started (c.plan may change under a re-INVITE)
		if sr, ok := c.browserOut.senderReport(senderSSRC(c.audioTR.Sender()), uint32(c.pbx.recv.clock), now); ok {
			pkts = append(pkts, sr)
		}
	}
	if c.video != nil && c.video.sender != nil && c.video.plan != nil {
		if sr, ok := c.video.browserOut.senderReport(senderSSRC(c.video.sender), c.video.plan.Browser.Clock, now); ok {
			pkts = append(pkts, sr)
		}
	}
	if len(pkts) > 0 {
		pkts[0].(*rtcp.SenderReport).Reports = blocks
	} else if len(blocks) > 0 {
		pkts = append(pkts, &rtcp.ReceiverReport{SSRC: c.pbx.send.ssrc, Reports: blocks})
	}
	if len(pkts) > 0 {
		pc.WriteRTCP(pkts)
	}
}

func senderSSRC(s *webrtc.RTPSender) uint32 {
	if s == nil {
		return 0
	}
	if p := s.GetParameters(); len(p.Encodings) > 0 {
		return uint32(p.Encodings[0].SSRC)
	}
	return 0
}

// relayFromBrowser moves one browser track to the PBX. Audio moves to the
// fast path after its first packet (goFast); this goroutine then only
// relays what pion still had in its buffers, and waits for the call's end.
func (c *Call) relayFromBrowser(t *webrtc.TrackRemote, to *pbxSender, in *streamStats, audio bool) {
	defer c.mediaWG.Done()
	c.recvMu.Lock()
	in.clock = float64(t.Codec().ClockRate)
	c.recvMu.Unlock()
	in.ssrc.Store(uint32(t.SSRC()))
	buf := make([]byte, 1500)
	tryFast := audio
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if n < rtpHeaderLen {
			continue
		}
		seq, ts := rtpSeqTS(buf[:n])
		c.recvMu.Lock()
		in.countReceived(n, seq, ts, time.Now())
		c.recvMu.Unlock()
		err = to.relay(buf[:n])
		if tryFast {
			tryFast = c.goFast(uint32(t.SSRC()))
			if c.fastAudio.Load() != nil {
				// pion gets no more of this stream: relay what it still
				// holds, then end (one goroutine less per call)
				t.SetReadDeadline(time.Now().Add(time.Second))
			}
		}
		if err != nil && !errors.Is(err, errNotRTP) {
			c.log.Debug("relay to PBX", "err", err)
		}
	}
}

// fromPBX is one PBX stream on its way to the browser. Its packets come
// from the leg's poller (pbxpoll.go); packets from other addresses
// than the PBX's media host are dropped.
type fromPBX struct {
	c     *Call
	leg   *pbxLeg
	track *atomic.Pointer[relayTrack]
	out   *streamStats
	audio bool

	lastEventTS uint32
	haveEvent   bool
	renumber    seqRenumber
	roc         rocTracker
	adopted     bool
}

// relayFromPBX starts moving leg's stream to the browser.
func (c *Call) relayFromPBX(leg *pbxLeg, track *atomic.Pointer[relayTrack], out *streamStats, audio bool) error {
	r := &fromPBX{c: c, leg: leg, track: track, out: out, audio: audio}
	return leg.poll(r.packet)
}

func (r *fromPBX) packet(pkt []byte, from netip.AddrPort) {
	c, leg, n := r.c, r.leg, len(pkt)
	pt, isTE := leg.forBrowser(pkt, from)
	if pt < 0 {
		return
	}
	seq, ts := rtpSeqTS(pkt)
	now := time.Now()
	leg.recv.countReceived(n, seq, ts, now)
	if r.audio && isTE && n >= rtpHeaderLen+4 && pkt[rtpHeaderLen+1]&0x80 != 0 && (!r.haveEvent || ts != r.lastEventTS) {
		// end of a DTMF event from the agent's side: tell the client too
		// (not on the poller: the signaling socket may block)
		r.haveEvent, r.lastEventTS = true, ts
		if d, ok := dtmfDigit(pkt[rtpHeaderLen]); ok {
			go c.sig.send(Message{Type: MsgDTMF, Digits: string(d)})
		}
	}
	// the box numbers what it sends: an SRTP index must never repeat
	out, ok := r.renumber.next(seq, binary.BigEndian.Uint32(pkt[8:12]))
	if !ok {
		return // a repeat: its number was sent already
	}
	binary.BigEndian.PutUint16(pkt[2:4], out)
	var err error
	if r.audio {
		err = c.sendToBrowser(pkt, r.track, &r.roc, &r.adopted, leg.poller)
	} else {
		_, err = r.track.Load().Write(pkt)
	}
	if err == nil {
		r.out.countSent(n)
		r.out.noteSent(ts, now)
	}
}

func (c *Call) queueDTMF(digits string) {
	if err := validDTMF(digits); err != nil {
		c.refuse(CodeBadMessage, err.Error())
		return
	}
	if c.plan == nil || c.plan.TE == nil {
		c.refuse(CodeState, "dtmf: no telephone-event agreed with the PBX (yet)")
		return
	}
	select {
	case c.dtmfq <- digits:
		// the sender starts with the first digits: most calls send none
		c.dtmfOnce.Do(func() { go c.dtmfLoop() })
	default:
		c.refuse(CodeState, "dtmf: too many digits queued")
	}
}

func (c *Call) dtmfLoop() {
	for {
		select {
		case <-c.stopMedia:
			return
		case digits := <-c.dtmfq:
			for i := 0; i < len(digits); i++ {
				if err := c.pbx.send.sendDTMF(digits[i], 100*time.Millisecond, c.stopMedia); err != nil {
					c.log.Debug("dtmf", "err", err)
				}
				select {
				case <-c.stopMedia:
					return
				case <-time.After(60 * time.Millisecond): // gap between digits
				}
			}
		}
	}
}

// onPBXRequest handles BYE, re-INVITE and REFER from the PBX.
func (c *Call) onPBXRequest(r pbxRequest) {
	switch r.req.Method {
	case sip.BYE:
		if c.dialog != nil {
			c.dialog.ReadBye(r.req, r.tx)
		} else {
			r.tx.Respond(sip.NewResponseFromRequest(r.req, 200, "OK", nil))
		}
		c.end(200, "agent hung up")
	case sip.INVITE:
		c.onReinvite(r)
	case sip.REFER:
		c.onRefer(r)
	default:
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 405, "Method Not Allowed", nil))
	}
}

// onReinvite applies a new offer of the PBX: hold, resume, a new media
// address, or another of the codecs the box offered.
func (c *Call) onReinvite(r pbxRequest) {
	respond := func(code int, reason string, body []byte) {
		res := sip.NewResponseFromRequest(r.req, code, reason, body)
		if body != nil {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			// the current address: a target refresh if the uplink moved
			if _, ct, err := c.svc.sip.endpoint(c.cfg.PBX.Transport); err == nil {
				res.AppendHeader(&ct)
			}
		}
		if err := r.tx.Respond(res); err != nil {
			c.log.Debug("re-INVITE response", "err", err)
		}
	}
	if c.plan == nil {
		respond(491, "Request Pending", nil)
		return
	}
	if len(r.req.Body()) == 0 {
		// offerless re-INVITE: offer what we have
		respond(200, "OK", c.pbxSDP("sendrecv"))
		return
	}
	info, err := parseSDP(string(r.req.Body()))
	if err != nil {
		respond(400, "Bad SDP", nil)
		return
	}
	// Keep the bridged codec if the PBX still offers it; otherwise switch
	// both legs to the first codec of the PBX's offer that the browser
	// offered too (renegotiating with the browser first).
	plan, err := planBridge(c.offer.Audio, keepCodec(info.Audio, c.plan.Browser))
	if err != nil || plan.Browser.PT != c.plan.Browser.PT {
		plan, err = planBridge(&mediaSection{Kind: "audio", Codecs: c.pbxCodecs}, info.Audio)
		if err == nil {
			err = c.switchCodec(plan)
		}
		if err != nil {
			c.log.Info("re-INVITE refused", "err", err)
			respond(488, "Not Acceptable Here", nil)
			return
		}
	}
	hold := plan.Hold
	dir := "sendrecv"
	switch info.Audio.Direction {
	case "sendonly":
		dir = "recvonly"
	case "inactive":
		dir = "inactive"
	case "recvonly":
		dir = "sendonly"
	}
	if !(plan.Remote.Addr().IsUnspecified()) {
		c.plan = plan
		c.pbx.apply(plan)
	}
	mute := dir == "recvonly" || dir == "inactive"
	c.pbx.send.setPaused(mute)
	if c.video != nil {
		c.video.leg.send.setPaused(mute)
	}
	respond(200, "OK", c.pbxSDP(dir))
	if hold != c.held {
		c.held = hold
		if hold {
			c.setState(StateHeld)
			c.event(EventHeld, 0, "")
		} else {
			c.setState(StateAnswered)
			c.event(EventResumed, 0, "")
		}
	}
}

// renegotiateTimeout bounds how long the browser may take to answer a
// renegotiation the PBX caused.
const renegotiateTimeout = 5 * time.Second

// switchCodec moves the browser leg to plan's codec: the box offers the
// browser the new codec, waits for its answer, then swaps the track and
// the relay's payload types.
func (c *Call) switchCodec(plan *bridgePlan) error {
	if c.audioTR == nil || c.pc == nil {
		return errors.New("no browser audio to renegotiate")
	}
	if err := c.audioTR.SetCodecPreferences(audioPreferences(plan)); err != nil {
		return err
	}
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return err
	}
	rollback := func() {
		c.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback})
		c.audioTR.SetCodecPreferences(audioPreferences(c.plan))
	}
	c.sig.send(Message{Type: MsgOffer, SDP: c.pc.LocalDescription().SDP})
	t := time.NewTimer(renegotiateTimeout)
	defer t.Stop()
	for answered := false; !answered; {
		select {
		case m, ok := <-c.in:
			if !ok {
				rollback()
				return errors.New("client left during renegotiation")
			}
			switch m.Type {
			case MsgAnswer:
				if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
					c.refuse(CodeBadSDP, err.Error())
					rollback()
					return fmt.Errorf("browser answer: %w", err)
				}
				answered = true
			case MsgCandidate:
				c.addCandidate(m.Candidate)
			case MsgHangup:
				c.requestHangup("client hung up")
			case MsgDTMF:
				c.queueDTMF(m.Digits)
			default:
				c.refuse(CodeState, fmt.Sprintf("%q while the box waits for an answer", m.Type))
			}
		case <-t.C:
			rollback()
			return errors.New("the browser did not answer the renegotiation in time")
		}
	}
	p, _ := codecParams(plan.Browser)
	track := newRelayTrack(p, webrtc.RTPCodecTypeAudio)
	if err := c.audioTR.Sender().ReplaceTrack(track); err != nil {
		return fmt.Errorf("browser leg track: %w", err)
	}
	c.audioTrack.Store(track)
	c.plan = plan
	c.pbx.apply(plan)
	c.mu.Lock()
	c.info.Codec = plan.Browser.Name
	c.mu.Unlock()
	c.log.Info("codec changed by the PBX", "codec", plan.Browser.Name)
	return nil
}

// keepCodec reorders a PBX offer so the bridged codec comes first, if it
// is there at all.
func keepCodec(m *mediaSection, want codec) *mediaSection {
	out := *m
	out.Codecs = nil
	for _, cd := range m.Codecs {
		if cd.Name == want.Name && cd.Clock == want.Clock {
			out.Codecs = append(out.Codecs, cd)
		}
	}
	for _, cd := range m.Codecs {
		if cd.Name == "telephone-event" {
			out.Codecs = append(out.Codecs, cd)
		}
	}
	return &out
}

// onRefer performs a blind transfer: the box calls the Refer-To target on
// the PBX with the same customer identity and context, moves the media to
// the new dialog and ends the old one.
func (c *Call) onRefer(r pbxRequest) {
	target := r.req.GetHeader("Refer-To")
	if target == nil {
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 400, "Missing Refer-To", nil))
		return
	}
	var addr sip.Uri
	v := strings.TrimSpace(target.Value())
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	if k := strings.IndexByte(v, '?'); k >= 0 {
		v = v[:k] // no embedded headers (Replaces: attended transfer is not supported)
	}
	if err := sip.ParseUri(v, &addr); err != nil || addr.User == "" {
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 400, "Bad Refer-To", nil))
		return
	}
	r.tx.Respond(sip.NewResponseFromRequest(r.req, 202, "Accepted", nil))
	c.event(EventTransfer, 202, addr.String())
	c.notifyRefer(100, "Trying")

	// New dialog toward the target with the same media offer.
	g := c.grant
	g.Destination = "sip:" + addr.User + "@" + addr.Host
	if addr.Port != 0 {
		g.Destination += fmt.Sprintf(":%d", addr.Port)
	}
	body := c.pbxSDP("sendrecv")
	req, dua, err := c.svc.sip.newInvite(g, c.cfg.PBX, body)
	if err != nil {
		c.notifyRefer(503, "Service Unavailable")
		return
	}
	if rb := r.req.GetHeader("Referred-By"); rb != nil {
		req.AppendHeader(sip.NewHeader("Referred-By", rb.Value()))
	}
	id := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&id)
	c.svc.bindSIP(id.Value(), c)
	// The call waits here for the transfer target: bounded tighter than a
	// first call so a hangup by the customer is not held up for long.
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	dlg, err := dua.WriteInvite(ctx, req)
	if err == nil {
		err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: c.cfg.Trunk.Username, Password: c.cfg.Trunk.Password})
	}
	if err != nil {
		c.svc.unbindSIP(id.Value())
		code := 503
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			code = de.Res.StatusCode
		}
		c.notifyRefer(code, "Transfer failed")
		return
	}
	dlg.Ack(ctx)
	if info, err := parseSDP(string(dlg.InviteResponse.Body())); err == nil {
		if plan, err := planBridge(c.offer.Audio, keepCodec(info.Audio, c.plan.Browser)); err == nil && plan.Browser.PT == c.plan.Browser.PT {
			c.plan = plan
			c.pbx.apply(plan)
		}
	}
	c.notifyRefer(200, "OK")
	old := c.dialog
	oldID := old.InviteRequest.CallID().Value()
	c.dialog = dlg
	c.mu.Lock()
	c.info.SIPCallID = id.Value()
	c.info.Destination = g.Destination
	c.mu.Unlock()
	bctx, bcancel := context.WithTimeout(context.Background(), byeTimeout)
	old.Bye(bctx)
	bcancel()
	c.svc.unbindSIP(oldID)
}

// notifyRefer reports transfer progress on the old dialog (RFC 3515).
func (c *Call) notifyRefer(code int, reason string) {
	if c.dialog == nil {
		return
	}
	req := sip.NewRequest(sip.NOTIFY, c.dialog.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if code >= 200 {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", code, reason)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.dialog.Do(ctx, req); err != nil {
		c.log.Debug("NOTIFY refer", "err", err)
	}
}

func (c *Call) bye() {
	if c.dialog == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := c.dialog.Bye(ctx); err != nil {
		c.log.Debug("BYE", "err", err)
	}
}

func (c *Call) cleanup() {
	close(c.stopMedia)
	c.stopFast()
	if c.pc != nil {
		c.pc.Close()
	}
	if c.pbx != nil {
		c.pbx.close()
	}
	if c.video != nil {
		c.video.leg.close()
	}
	c.mediaWG.Wait()
	if c.dialog != nil {
		c.dialog.Close()
	}
	close(c.done)
	c.svc.callEnded(c)
}
