package gateway

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"

	"edgebox/internal/udpbatch"
)

// The relay moves RTP between the legs without transcoding: it checks the
// header, maps the payload type, gives the packet the outgoing leg's SSRC
// and sequence numbers, and sends it. It works in place on the caller's
// buffer and allocates nothing per packet (BenchmarkRelayToPBX).

var errNotRTP = errors.New("not an RTP packet")

const rtpHeaderLen = 12

// ptMap maps incoming payload types to outgoing ones; -1 drops the packet.
type ptMap [128]int16

func newPTMap() ptMap {
	var m ptMap
	for i := range m {
		m[i] = -1
	}
	return m
}

// packetWriter sends datagrams: the leg's udpbatch.Socket (or a
// *net.UDPConn in tests).
type packetWriter interface {
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
}

// pbxSender is the PBX leg's outgoing RTP stream. Browser packets and
// injected DTMF share its SSRC and sequence space.
type pbxSender struct {
	mu       sync.Mutex
	conn     packetWriter
	remote   netip.AddrPort
	ssrc     uint32
	pt       ptMap
	seq      uint16 // last sequence number sent
	seqDelta uint16 // outgoing minus incoming sequence numbers
	ts       uint32 // last timestamp sent
	tsOffset uint32
	started  bool
	tePT     int16 // telephone-event PT toward the PBX, -1: none
	// paused while the PBX holds the call with sendonly/inactive: the box
	// answered recvonly/inactive and must not send
	paused  bool
	teClock uint32
	stats   *streamStats
}

// relay sends one browser RTP packet (pkt is modified) to the PBX.
func (s *pbxSender) relay(pkt []byte) error { return s.relayVia(pkt, nil) }

// relayVia is relay with the send queued in batch (a socket reader's batch,
// sent at the end of its receive batch) where batch is not nil.
func (s *pbxSender) relayVia(pkt []byte, batch *udpbatch.Multi) error {
	if len(pkt) < rtpHeaderLen || pkt[0]>>6 != 2 {
		return errNotRTP
	}
	inSeq := binary.BigEndian.Uint16(pkt[2:4])
	s.mu.Lock()
	out := s.pt[pkt[1]&0x7f]
	if out < 0 || s.paused {
		s.mu.Unlock()
		return nil // a payload type the PBX did not agree to, or on hold: drop
	}
	// Outgoing numbers follow the browser's, shifted past the DTMF
	// packets the box injected, so gaps (loss) stay visible to the PBX.
	seq := inSeq + s.seqDelta
	s.seq = seq
	s.started = true
	ts := binary.BigEndian.Uint32(pkt[4:8]) + s.tsOffset
	s.ts = ts
	pkt[1] = pkt[1]&0x80 | byte(out)
	binary.BigEndian.PutUint16(pkt[2:4], seq)
	binary.BigEndian.PutUint32(pkt[4:8], ts)
	binary.BigEndian.PutUint32(pkt[8:12], s.ssrc)
	remote := s.remote
	s.mu.Unlock()
	if !remote.IsValid() {
		return nil
	}
	if sock, ok := s.conn.(*udpbatch.Socket); ok && batch != nil {
		// counted as sent: one the kernel refuses is a packet lost
		if err := batch.Add(sock, pkt, remote); err != nil {
			return err
		}
		s.stats.countSent(len(pkt))
		return nil
	}
	n, err := s.conn.WriteToUDPAddrPort(pkt, remote)
	if err == nil {
		s.stats.countSent(n)
	}
	return err
}

// setPaused stops or resumes sending (hold by the PBX).
func (s *pbxSender) setPaused(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
}

// setRemote changes where RTP goes (re-INVITE, transfer).
func (s *pbxSender) setRemote(a netip.AddrPort, pt ptMap) {
	s.mu.Lock()
	s.remote = a
	s.pt = pt
	s.mu.Unlock()
}

// browserRewrite prepares a PBX packet for the browser leg in place: pion
// sets SSRC and payload type of the negotiated stream itself, so only the
// payload type mapping and the header checks are done here. It returns the
// outgoing payload type or -1 to drop.
func browserRewrite(pkt []byte, pt *ptMap) int {
	if len(pkt) < rtpHeaderLen || pkt[0]>>6 != 2 {
		return -1
	}
	// RTCP on the RTP port (rtcp-mux at the PBX): payload types 72..76
	// with the marker bit read as part of the packet type.
	if t := pkt[1]; t >= 200 && t <= 204 {
		return -1
	}
	out := pt[pkt[1]&0x7f]
	if out >= 0 {
		pkt[1] = pkt[1]&0x80 | byte(out)
	}
	return int(out)
}

// rtpSeqTS reads the sequence number and timestamp of a checked packet.
func rtpSeqTS(pkt []byte) (uint16, uint32) {
	return binary.BigEndian.Uint16(pkt[2:4]), binary.BigEndian.Uint32(pkt[4:8])
}

// seqRenumber gives a stream the box forwards sequence numbers of its
// own: the source's numbers shifted by a delta, so that loss and
// reordering stay visible, but where the source jumps (the PBX switched
// media source, a new SSRC, or restarted its numbering) the stream goes on
// from the last number sent. SRTP keys each packet by its sequence number:
// a number sent twice would encrypt other content under a used index, so
// repeats within the window are dropped.
type seqRenumber struct {
	started         bool
	ssrc            uint32
	lastIn, lastOut uint16
	delta           uint16
	sent            uint64 // bit i: lastOut-i was sent
}

const (
	// seqAhead is the largest forward step kept as loss (about 20 s of
	// 20 ms packets); seqBehind the oldest late packet still forwarded.
	seqAhead  = 1000
	seqBehind = 63
)

// next is the outgoing sequence number of a packet with inSeq from ssrc;
// false drops it (a repeat). The first packet keeps its number.
func (r *seqRenumber) next(inSeq uint16, ssrc uint32) (uint16, bool) {
	d := int16(inSeq - r.lastIn)
	if !r.started || ssrc != r.ssrc || d > seqAhead || d < -seqBehind {
		if r.started {
			r.delta = r.lastOut + 1 - inSeq
			r.sent <<= 1 // lastOut moves on by one
		}
		r.started, r.ssrc = true, ssrc
		r.lastIn, r.lastOut = inSeq, inSeq+r.delta
		r.sent |= 1
		return r.lastOut, true
	}
	out := inSeq + r.delta
	if d > 0 {
		r.sent = r.sent<<uint(d) | 1
		r.lastIn, r.lastOut = inSeq, out
		return out, true
	}
	bit := uint64(1) << uint(-d)
	if r.sent&bit != 0 {
		return 0, false
	}
	r.sent |= bit
	return out, true
}
