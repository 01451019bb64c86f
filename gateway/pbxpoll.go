package gateway

import (
	"time"

	"edgebox/internal/dtlssrtp"
	"edgebox/internal/udpbatch"
)

// pbxPoller reads its PBX legs' RTP and RTCP sockets on one goroutine
// (udpbatch.Poller; the port pool has one per CPU), and sends what a
// round's packets make for browsers together at its end (sendmmsg from
// the ICE socket).
type pbxPoller struct {
	*udpbatch.Poller
	// browser-bound packets of a round, sent together from the ICE
	// socket they belong to (poller goroutine only)
	out     *udpbatch.Batch
	outConn *dtlssrtp.Conn
	// now is the round's arrival time, read at its first packet (a
	// clock read per packet cost more than the relay's bookkeeping:
	// BenchmarkRelayBookkeeping)
	now time.Time
}

func newPBXPoller() *pbxPoller {
	p := &pbxPoller{out: udpbatch.New(64, 1500+srtpOverhead)}
	p.Poller = udpbatch.NewPoller(1500, p.endRound)
	return p
}

// arrival is when the round's packets arrived (poller goroutine only).
func (p *pbxPoller) arrival() time.Time {
	if p.now.IsZero() {
		p.now = time.Now()
	}
	return p.now
}

// endRound sends the round's packets for browsers.
func (p *pbxPoller) endRound() {
	p.flush()
	p.now = time.Time{}
}

// srtpOverhead is room for SRTP's authentication tag (and MKI).
const srtpOverhead = 64

// sealTo queues pkt, encrypted by s, for sending from conn at the end of
// the round (poller goroutine only).
func (p *pbxPoller) sealTo(conn *dtlssrtp.Conn, s *dtlssrtp.Session, pkt []byte) error {
	if len(pkt) > 1500 {
		_, err := s.WriteRTP(pkt)
		return err
	}
	if p.outConn != conn {
		p.flush()
		p.outConn = conn
	}
	slot := p.out.Slot()
	if slot == nil {
		p.flush()
		slot = p.out.Slot()
	}
	enc, to, err := s.Seal(slot, pkt)
	if err != nil {
		return err
	}
	p.out.Add(len(enc), to)
	return nil
}

// flush sends what the round queued.
func (p *pbxPoller) flush() {
	if p.out.N > 0 && p.outConn != nil {
		p.outConn.Send(p.out)
	}
	p.out.N = 0
}
