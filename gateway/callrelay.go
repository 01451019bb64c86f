package gateway

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// The call's media once set up: RTCP reports, the relays between the
// legs, DTMF.

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
	if ssrc := c.browserAudioSSRC(); ssrc != 0 {
		// the PBX leg's clock is the bridged codec's, set once before the
		// media started (c.plan may change under a re-INVITE)
		if sr, ok := c.browserOut.senderReport(ssrc, uint32(c.pbx.recv.clock), now); ok {
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
	switch {
	case len(pkts) == 0:
	case c.lean != nil:
		c.lean.writeRTCP(pkts)
	case pc != nil:
		pc.WriteRTCP(pkts)
	}
}

// browserAudioSSRC is the SSRC the box sends the browser audio with.
func (c *call) browserAudioSSRC() uint32 {
	if c.lean != nil {
		return c.lean.ssrc
	}
	if c.audioTR != nil {
		return senderSSRC(c.audioTR.Sender())
	}
	return 0
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
	now := leg.poller.arrival()
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
	if c.dtmfq == nil {
		// the queue and its sender start with the first digits: most
		// calls send none (run goroutine only)
		c.dtmfq = make(chan string, 8)
		go c.dtmfLoop(c.dtmfq)
	}
	select {
	case c.dtmfq <- digits:
	default:
		c.refuse(CodeState, "dtmf: too many digits queued")
	}
}

func (c *call) dtmfLoop(q <-chan string) {
	for {
		select {
		case <-c.stopMedia:
			return
		case digits := <-q:
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
