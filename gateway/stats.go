package gateway

import (
	"edgebox/api/gatewayapi"
	"math"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// streamStats counts one direction of one leg. The relay goroutine of that
// direction is the only writer; readers (API, metrics) use the atomics.
type streamStats struct {
	packets atomic.Uint64
	bytes   atomic.Uint64
	lost    atomic.Int64
	// jitter in microseconds (RFC 3550 section 6.4.1 estimate)
	jitterMicros atomic.Uint64
	// for receiver reports: SSRC, extended highest sequence number and
	// jitter in timestamp units
	ssrc     atomic.Uint32
	extMax   atomic.Uint32
	jitterTS atomic.Uint32

	// send side: the last RTP timestamp sent and when, for sender reports
	sentTS atomic.Uint32
	sentAt atomic.Int64 // unix nanoseconds

	// receive-side state, touched by the one writer only
	started     bool
	baseSeq     uint32
	maxSeq      uint32 // extended
	received    uint64
	lastTransit float64
	jitter      float64 // in timestamp units
	clock       float64
}

// countSent counts a packet leaving the box.
func (s *streamStats) countSent(n int) {
	s.packets.Add(1)
	s.bytes.Add(uint64(n))
}

// noteSent remembers the timestamp of the packet just sent.
func (s *streamStats) noteSent(ts uint32, at time.Time) {
	s.sentTS.Store(ts)
	s.sentAt.Store(at.UnixNano())
}

// senderReport is the RTCP sender report of a stream the box sends with
// ssrc at clock Hz; false until a packet was sent. The RTP time is the
// last packet's, carried forward to now.
func (s *streamStats) senderReport(ssrc uint32, clock uint32, now time.Time) (*rtcp.SenderReport, bool) {
	at := s.sentAt.Load()
	if at == 0 || ssrc == 0 || clock == 0 {
		return nil, false
	}
	elapsed := now.Sub(time.Unix(0, at))
	return &rtcp.SenderReport{
		SSRC:        ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     s.sentTS.Load() + uint32(elapsed.Seconds()*float64(clock)),
		PacketCount: uint32(s.packets.Load()),
		OctetCount:  uint32(s.bytes.Load() - rtpHeaderLen*s.packets.Load()), // payload octets
	}, true
}

// countReceived counts an arriving packet and updates loss and jitter.
func (s *streamStats) countReceived(n int, seq uint16, ts uint32, arrival time.Time) {
	s.packets.Add(1)
	s.bytes.Add(uint64(n))
	if s.clock == 0 {
		return
	}
	s.received++
	if !s.started {
		s.started = true
		s.baseSeq = uint32(seq)
		s.maxSeq = uint32(seq)
	} else {
		// extend the 16-bit sequence number around the highest seen
		cycles := s.maxSeq &^ 0xffff
		ext := cycles | uint32(seq)
		if int32(ext-s.maxSeq) < -0x8000 {
			ext += 0x10000
		} else if int32(ext-s.maxSeq) > 0x8000 {
			ext -= 0x10000
		}
		if ext > s.maxSeq {
			s.maxSeq = ext
		}
	}
	expected := int64(s.maxSeq-s.baseSeq) + 1
	// stored only when changed: a load is a plain read, a store a locked
	// exchange, and loss and jitter mostly stay as they were
	if l := max(0, expected-int64(s.received)); l != s.lost.Load() {
		s.lost.Store(l)
	}
	s.extMax.Store(s.maxSeq)
	arr := float64(arrival.UnixNano()) / 1e9 * s.clock
	transit := arr - float64(ts)
	if s.received > 1 {
		d := math.Abs(transit - s.lastTransit)
		s.jitter += (d - s.jitter) / 16
		if j := uint64(s.jitter / s.clock * 1e6); j != s.jitterMicros.Load() {
			s.jitterMicros.Store(j)
		}
		if j := uint32(s.jitter); j != s.jitterTS.Load() {
			s.jitterTS.Store(j)
		}
	}
	s.lastTransit = transit
}

// receptionReport is the RTCP report block for this stream.
func (s *streamStats) receptionReport() (rtcp.ReceptionReport, bool) {
	ssrc := s.ssrc.Load()
	if ssrc == 0 {
		return rtcp.ReceptionReport{}, false
	}
	return rtcp.ReceptionReport{
		SSRC:               ssrc,
		TotalLost:          uint32(min(s.lost.Load(), 0x7fffff)),
		LastSequenceNumber: s.extMax.Load(),
		Jitter:             s.jitterTS.Load(),
	}, true
}

// StreamStats is one direction of a leg (gatewayapi).
type StreamStats = gatewayapi.StreamStats

func (s *streamStats) snapshot() StreamStats {
	return StreamStats{
		Packets:  s.packets.Load(),
		Bytes:    s.bytes.Load(),
		Lost:     s.lost.Load(),
		JitterMS: float64(s.jitterMicros.Load()) / 1000,
	}
}
