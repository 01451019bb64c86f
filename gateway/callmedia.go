package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"edgebox/internal/config"

	"github.com/pion/webrtc/v4"
)

// localRTPAddr is the PBX-side media address of the box.
func (c *call) localRTPAddr() netip.Addr {
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

func (c *call) pbxSDP(dir string) []byte {
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

// startMedia builds both media legs from the PBX's SDP and answers the
// browser.
func (c *call) startMedia(pbxSDP []byte) error {
	info, err := parsePBXSDP(string(pbxSDP), c.cfg.PBX)
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
	offer := c.offerDesc
	c.offerDesc = nil // held only until here: pion parses the offer itself
	if c.useLean(video) {
		return c.startLean(plan, offer)
	}
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
	c.info.Stack = config.StackPion
	c.mu.Unlock()

	cands := &candidateGate{c: c}
	c.watchBrowser(pc, cands)
	if err := c.takeBrowserOffer(pc, plan); err != nil {
		return err
	}
	if err := c.addBrowserTracks(pc, plan); err != nil {
		return err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("browser answer: %w", err)
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("browser answer: %w", err)
	}
	c.log.Debug("browser answer", "sdp", sdpForLog(pc.LocalDescription().SDP))
	cands.open(Message{Type: MsgAnswer, SDP: pc.LocalDescription().SDP})
	return c.startPBXRelays(pc)
}

// candidateGate holds the box's ICE candidates gathered before the answer
// went out: a client cannot add a candidate before it has the answer.
type candidateGate struct {
	c     *call
	mu    sync.Mutex
	sent  bool
	early []Message
}

func (g *candidateGate) send(m Message) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.sent {
		g.early = append(g.early, m)
		return
	}
	g.c.sig.send(m)
}

// open sends the answer, then the candidates that waited for it.
func (g *candidateGate) open(answer Message) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.c.sig.send(answer)
	for _, m := range g.early {
		g.c.sig.send(m)
	}
	g.sent = true
}

// watchBrowser hooks the browser leg's events: the box's candidates, a
// failed connection, and the browser's tracks (relayed to the PBX).
func (c *call) watchBrowser(pc *webrtc.PeerConnection, cands *candidateGate) {
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		m := Message{Type: MsgCandidate, Candidate: &Candidate{}}
		if cand != nil {
			ci := cand.ToJSON()
			m.Candidate = &Candidate{Candidate: ci.Candidate, SDPMid: ci.SDPMid, SDPMLineIndex: ci.SDPMLineIndex}
		}
		cands.send(m)
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
}

// takeBrowserOffer applies the browser's offer and the candidates that
// came with it, and puts plan's codec first on the audio transceiver.
func (c *call) takeBrowserOffer(pc *webrtc.PeerConnection, plan *bridgePlan) error {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: c.iceSafeSDP(c.offerSDP)}); err != nil {
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
	return nil
}

// addBrowserTracks adds the tracks the box sends the browser: audio, and
// video when bridged.
func (c *call) addBrowserTracks(pc *webrtc.PeerConnection, plan *bridgePlan) error {
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
	if c.video == nil || c.video.plan == nil {
		return nil
	}
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
	return nil
}

// startPBXRelays starts moving the PBX's media (and reading its RTCP) to
// the browser, and the call's RTCP timer.
func (c *call) startPBXRelays(pc *webrtc.PeerConnection) error {
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
	c.web.reports.add(c, pc, videoLeg)
	return nil
}

// renegotiateTimeout bounds how long the browser may take to answer a
// renegotiation the PBX caused.
const renegotiateTimeout = 5 * time.Second

// switchCodec moves the browser leg to plan's codec: the box offers the
// browser the new codec, waits for its answer, then swaps the track and
// the relay's payload types.
func (c *call) switchCodec(plan *bridgePlan) error {
	if c.lean != nil {
		return c.lean.switchCodec(plan)
	}
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
				if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: c.iceSafeSDP(m.SDP)}); err != nil {
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
