package gateway

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"edgebox/internal/dtlssrtp"
	"edgebox/internal/udpbatch"

	"github.com/pion/webrtc/v4"
)

// The call's audio leaves pion's per-packet path once it is established:
// pion (ICE, DTLS, SDP) brings the browser leg up and carries its first
// packets; then the browser's audio RTP is decrypted on the ICE socket's
// reader goroutine and relayed to the PBX right there, and the PBX's audio
// is encrypted and sent by the PBX leg's reader, with no goroutine hand-off
// in between (internal/dtlssrtp). RTCP, video and anything the fast path
// cannot take (keys not learnt, a TURN relay as local candidate) stay with
// pion.

// Media paths a call's audio can take (CallInfo.MediaPath).
const (
	PathPion = "pion"
	PathFast = "fast"
)

// fastAudio is the call's audio on the fast path.
type fastAudio struct {
	s *dtlssrtp.Session
	// ssrc the box sends to the browser with (the RTP sender's)
	ssrc uint32
}

// errNoBrowserMedia: the browser leg cannot carry media yet.
var errNoBrowserMedia = errors.New("the browser leg is not up yet")

// nearWrap: the fast path does not start within this many sequence
// numbers of a wrap, so both ends agree on the rollover counter.
const nearWrap = 0xff00

// goFast tries to move the call's audio to the fast path after the
// browser's first audio packets came through pion; browserSSRC is their
// SSRC. It reports whether to try again with a later packet.
func (c *call) goFast(browserSSRC uint32) (again bool) {
	host := c.web
	if host == nil || host.fast == nil || c.audioTR == nil {
		return false
	}
	if c.cfg.Media.PionMediaPath {
		c.setMediaPath(PathPion)
		return false
	}
	if c.browserIn.extMax.Load()&0xffff >= nearWrap {
		return true
	}
	tr := c.audioTR.Sender().Transport()
	if tr == nil {
		return false
	}
	pair, err := tr.ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return true
	}
	peer, ok := host.onSharedPort(pair)
	if !ok {
		c.log.Info("audio stays on pion's path: the ICE pair does not use the shared media port", "local", pair.Local.String())
		c.setMediaPath(PathPion)
		return false
	}
	keys, err := host.fast.Keyring().KeysFor(peer)
	if err != nil {
		c.log.Info("audio stays on pion's path", "err", err)
		c.setMediaPath(PathPion)
		return false
	}
	params := c.audioTR.Sender().GetParameters()
	if len(params.Encodings) == 0 {
		return false
	}
	s, err := host.fast.NewSession(peer, keys)
	if err != nil {
		c.log.Info("audio stays on pion's path", "err", err)
		c.setMediaPath(PathPion)
		return false
	}
	tr.ICETransport().OnSelectedCandidatePairChange(func(p *webrtc.ICECandidatePair) {
		if peer, ok := host.onSharedPort(p); ok {
			s.SetPeer(peer)
		}
	})
	c.recvMu.Lock()
	s.SetReceiveROC(browserSSRC, c.browserIn.extMax.Load()>>16)
	c.recvMu.Unlock()
	s.ReceiveBatched(browserSSRC, c.fromBrowserFast)
	c.fastAudio.Store(&fastAudio{s: s, ssrc: uint32(params.Encodings[0].SSRC)})
	c.setMediaPath(PathFast)
	return false
}

// onSharedPort is the browser's address when pair runs over the shared
// ICE port (a host candidate of the box), where the fast path sees it.
func (h *webrtcHost) onSharedPort(pair *webrtc.ICECandidatePair) (netip.AddrPort, bool) {
	if pair == nil || pair.Local == nil || pair.Remote == nil ||
		pair.Local.Typ != webrtc.ICECandidateTypeHost || int(pair.Local.Port) != h.port {
		return netip.AddrPort{}, false
	}
	a, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.Unmap(), pair.Remote.Port), true
}

// fromBrowserFast relays one decrypted browser audio packet to the PBX; it
// runs on the ICE socket's reader goroutine and must not block. The send
// is queued in out, the reader's batch, where it has one; at is when the
// reader's receive batch arrived (zero: read the clock).
func (c *call) fromBrowserFast(pkt []byte, out *udpbatch.Multi, at time.Time) {
	if at.IsZero() {
		at = time.Now()
	}
	seq, ts := rtpSeqTS(pkt)
	c.recvMu.Lock()
	c.browserIn.countReceived(len(pkt), seq, ts, at)
	c.recvMu.Unlock()
	c.pbx.send.relayVia(pkt, out)
}

func (c *call) setMediaPath(p string) {
	c.mu.Lock()
	c.info.MediaPath = p
	c.mu.Unlock()
}

// stopFast gives the call's audio back to pion (the call ends).
func (c *call) stopFast() {
	if f := c.fastAudio.Swap(nil); f != nil {
		f.s.Close()
	}
	c.reports.stop(c)
	if c.lean != nil {
		c.lean.stop()
	}
}

// rocTracker follows the rollover counter of a stream the box sends, as
// the SRTP context encrypting it does, so that a stream pion started can
// be continued by the fast path with the same counter.
type rocTracker struct {
	started bool
	last    uint16
	roc     uint32
}

// next is the rollover counter of a packet with seq.
func (t *rocTracker) next(seq uint16) uint32 {
	if !t.started {
		t.started, t.last = true, seq
		return t.roc
	}
	d := int16(seq - t.last)
	switch {
	case d > 0 && seq < t.last: // wrapped forward
		t.roc++
		t.last = seq
	case d > 0:
		t.last = seq
	case d < 0 && seq > t.last: // a late packet from before the wrap
		return t.roc - 1
	}
	return t.roc
}

// sendToBrowser sends one PBX packet (payload type already mapped) to the
// browser: through the fast path once the call is on it, else through
// pion's track. adopted tells whether the fast path took the stream over;
// the first packet it sends continues pion's rollover counter.
func (c *call) sendToBrowser(pkt []byte, track *atomic.Pointer[relayTrack], roc *rocTracker, adopted *bool, p *pbxPoller) error {
	seq := binary.BigEndian.Uint16(pkt[2:4])
	if f := c.fastAudio.Load(); f != nil {
		binary.BigEndian.PutUint32(pkt[8:12], f.ssrc)
		if !*adopted {
			*adopted = true
			f.s.SetSendROC(f.ssrc, roc.next(seq))
		}
		return p.sealTo(c.web.fast, f.s, pkt)
	}
	roc.next(seq)
	t := track.Load()
	if t == nil {
		return errNoBrowserMedia // a lean call before its DTLS is up
	}
	_, err := t.Write(pkt)
	return err
}
