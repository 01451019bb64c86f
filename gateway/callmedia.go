package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
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
func (c *call) sendReports(pc *webrtc.PeerConnection, videoLeg *pbxLeg, every time.Duration) {
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
func (c *call) sendBrowserReports(pc *webrtc.PeerConnection) {
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
func (c *call) relayFromBrowser(t *webrtc.TrackRemote, to *pbxSender, in *streamStats, audio bool) {
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
	c     *call
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
func (c *call) relayFromPBX(leg *pbxLeg, track *atomic.Pointer[relayTrack], out *streamStats, audio bool) error {
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

func (c *call) queueDTMF(digits string) {
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

func (c *call) dtmfLoop() {
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

// renegotiateTimeout bounds how long the browser may take to answer a
// renegotiation the PBX caused.
const renegotiateTimeout = 5 * time.Second

// switchCodec moves the browser leg to plan's codec: the box offers the
// browser the new codec, waits for its answer, then swaps the track and
// the relay's payload types.
func (c *call) switchCodec(plan *bridgePlan) error {
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
