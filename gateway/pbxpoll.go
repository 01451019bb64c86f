package gateway

import (
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
}

func newPBXPoller() *pbxPoller {
	p := &pbxPoller{out: udpbatch.New(64, 1500+srtpOverhead)}
	p.Poller = udpbatch.NewPoller(1500, p.flush)
	return p
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
