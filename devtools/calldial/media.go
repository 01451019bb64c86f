package calldial

import (
	"bytes"
	"encoding/binary"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/dtlssrtp"
	"edgebox/internal/udpbatch"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// marker starts every payload calldial sends, so its echo is recognised.
var marker = []byte("EBX1")

// payload layout: marker, 4-byte packet number, 8-byte send time (ns).
const payloadHead = 16

// totals are the run's packet counters, for progress and the CPU window.
type totals struct {
	sent     atomic.Uint64
	received atomic.Uint64
}

// mediaStream is one call's audio: the pacer sends, the echo comes back
// first through pion's track reader and, once the call switched to its
// dtlssrtp session (fast), straight from the socket's reader goroutine.
type mediaStream struct {
	track *webrtc.TrackLocalStaticRTP
	spec  codecSpec
	all   *totals
	clock float64

	// fast is set once the call's SRTP is carried outside pion: from then
	// on the pacer sends through the session and never through the
	// track, so only one of the two ever encrypts the stream.
	fast atomic.Pointer[fastPath]

	// sending side, touched by the pacer only
	pkt      rtp.Packet
	payload  []byte
	out      []byte // marshalled packet for the session
	n        uint32
	roc      uint32 // rollover counter: wraps of pkt.SequenceNumber
	onFast   bool   // the session has sent (its ROC was set)
	sent     atomic.Uint64
	fastSent atomic.Uint64
	slot     int
	idx      int // position in the pacer slot, under pacer.mu

	mu       sync.Mutex // receiving side (pion's reader and the session's)
	received uint64
	fastRecv uint64
	rttSum   time.Duration
	rttMax   time.Duration
	jitter   float64 // RFC 3550 estimate, timestamp units
	lastTr   float64
	first    time.Time
}

// fastPath is where the pacer sends once the call left pion: the
// session, and the SSRC and payload type pion had negotiated for the
// track.
type fastPath struct {
	s    *dtlssrtp.Session
	ssrc uint32
	pt   uint8
}

func newMediaStream(track *webrtc.TrackLocalStaticRTP, spec codecSpec, all *totals) *mediaStream {
	m := &mediaStream{track: track, spec: spec, all: all, clock: float64(spec.params.ClockRate),
		payload: make([]byte, spec.payload), out: make([]byte, 1500)}
	copy(m.payload, marker)
	// The first sequence number is below 2^15 so the stream does not
	// wrap while pion still sends it, nor while the gateway may be
	// moving its own receiving end off pion (the session is told the
	// rollover counter anyway).
	m.pkt.Header = rtp.Header{Version: 2, PayloadType: uint8(spec.params.PayloadType), SequenceNumber: uint16(randUint32() & 0x7fff), Timestamp: randUint32()}
	m.pkt.Marker = true
	return m
}

// sendOne sends the next 20 ms packet; on the fast path it is queued in
// out (nil: sent at once), which the pacer flushes after each tick.
func (m *mediaStream) sendOne(now time.Time, out *udpbatch.Multi) {
	m.n++
	binary.BigEndian.PutUint32(m.payload[4:8], m.n)
	binary.BigEndian.PutUint64(m.payload[8:16], uint64(now.UnixNano()))
	m.pkt.Payload = m.payload
	var err error
	if f := m.fast.Load(); f != nil {
		if !m.onFast {
			// continue the stream pion started: same SRTP index
			f.s.SetSendROC(f.ssrc, m.roc)
			m.onFast = true
		}
		m.pkt.SSRC, m.pkt.PayloadType = f.ssrc, f.pt
		var n int
		if n, err = m.pkt.MarshalTo(m.out); err == nil {
			if _, err = f.s.WriteRTPVia(m.out[:n], out); err == nil {
				m.fastSent.Add(1)
			}
		}
	} else {
		err = m.track.WriteRTP(&m.pkt)
	}
	if err == nil {
		m.sent.Add(1)
		m.all.sent.Add(1)
	}
	m.pkt.Marker = false
	m.pkt.SequenceNumber++
	if m.pkt.SequenceNumber == 0 {
		m.roc++
	}
	m.pkt.Timestamp += m.spec.step
}

// receive reads the echoed stream from pion until the track ends. After
// the first echo it calls first once with the stream's rollover counter
// (first moves the call to the fast path; packets pion had already taken
// keep coming here).
func (m *mediaStream) receive(t *webrtc.TrackRemote, first func(roc uint32)) {
	buf := make([]byte, 1500)
	var w seqWatch
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		w.see(binary.BigEndian.Uint16(buf[2:4]))
		if m.echo(buf[:n], time.Now(), false) && first != nil && w.settled() {
			first(w.roc)
			first = nil
		}
	}
}

// seqWatch follows the sequence numbers of a stream pion decrypts, so
// its rollover counter can be handed to the session taking it over.
type seqWatch struct {
	last uint16
	roc  uint32
	seen bool
}

func (w *seqWatch) see(seq uint16) {
	if w.seen && seq < w.last && w.last-seq > 0x8000 {
		w.roc++
	}
	w.last, w.seen = seq, true
}

// settled is false just before a wrap: packets pion takes while the
// session is set up could wrap the counter the session was given, so the
// switch waits until the stream is past the wrap (a few seconds, for
// one stream in 256).
func (w *seqWatch) settled() bool { return w.seen && w.last < 0xff00 }

// onFastEcho is the dtlssrtp session's handler: a decrypted echo, on the
// socket's reader goroutine (no blocking, pkt not kept).
func (m *mediaStream) onFastEcho(pkt []byte) { m.echo(pkt, time.Now(), true) }

// echo accounts one received packet; false if it was not calldial's.
func (m *mediaStream) echo(pkt []byte, now time.Time, fast bool) bool {
	ts, sentAt, ok := echoOf(pkt)
	if !ok {
		return false
	}
	rtt := time.Duration(now.UnixNano() - sentAt)
	m.all.received.Add(1)
	// transit in timestamp units; the echo keeps our timestamps shifted
	// by a constant, so differences are the jitter
	tr := float64(now.UnixNano())/1e9*m.clock - float64(ts)
	m.mu.Lock()
	m.received++
	if fast {
		m.fastRecv++
	}
	if m.first.IsZero() {
		m.first = now
	}
	m.rttSum += rtt
	m.rttMax = max(m.rttMax, rtt)
	if m.received > 1 {
		m.jitter += (math.Abs(tr-m.lastTr) - m.jitter) / 16
	}
	m.lastTr = tr
	m.mu.Unlock()
	return true
}

// echoOf finds calldial's payload in a plain RTP packet: the packet's
// timestamp and the send time the payload carries; ok is false for
// anything else.
func echoOf(pkt []byte) (ts uint32, sentAt int64, ok bool) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return 0, 0, false
	}
	off := 12 + 4*int(pkt[0]&0x0f) // CSRCs
	if pkt[0]&0x10 != 0 {          // header extension
		if len(pkt) < off+4 {
			return 0, 0, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:off+4]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 { // padding, its length in the last byte
		end -= int(pkt[end-1])
	}
	if end-off < payloadHead || !bytes.Equal(pkt[off:off+4], marker) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(pkt[4:8]), int64(binary.BigEndian.Uint64(pkt[off+8 : off+16])), true
}

func (m *mediaStream) firstEcho() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.first
}

// mediaResult is one call's media summary.
type mediaResult struct {
	Sent, Received uint64
	Lost           uint64
	// FastSent and FastReceived are the packets that went through the
	// dtlssrtp session instead of pion.
	FastSent, FastReceived uint64
	JitterMS               float64
	RTTMeanMS              float64
	RTTMaxMS               float64
}

func (m *mediaStream) result() mediaResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := mediaResult{Sent: m.sent.Load(), Received: m.received, FastSent: m.fastSent.Load(), FastReceived: m.fastRecv}
	if r.Sent > r.Received {
		r.Lost = r.Sent - r.Received
	}
	r.JitterMS = m.jitter / float64(m.spec.params.ClockRate) * 1000
	if m.received > 0 {
		r.RTTMeanMS = float64(m.rttSum) / float64(m.received) / 1e6
		r.RTTMaxMS = float64(m.rttMax) / 1e6
	}
	return r
}

// pacer sends a packet on every active stream each 20 ms. Streams are
// spread over slots so the box sees an even packet rate, not a burst
// every 20 ms; a few shards keep one slow send from delaying all.
type pacer struct {
	shards []*pacerShard
	next   atomic.Uint64
	// skipped counts 20 ms periods a shard could not serve in time (the
	// load generator itself was short of CPU): packets not sent, not lost.
	skipped atomic.Uint64
	// active is the number of streams being sent
	active atomic.Int64
}

const (
	packetInterval = 20 * time.Millisecond
	pacerSlots     = 10
)

type pacerShard struct {
	mu    sync.Mutex
	slots [pacerSlots][]*mediaStream
	stop  chan struct{}
	done  chan struct{}
	p     *pacer
}

func newPacer(shards int) *pacer {
	p := &pacer{}
	for i := 0; i < shards; i++ {
		s := &pacerShard{stop: make(chan struct{}), done: make(chan struct{}), p: p}
		p.shards = append(p.shards, s)
		go s.loop()
	}
	return p
}

func (p *pacer) shardOf(m *mediaStream) *pacerShard {
	return p.shards[m.slot%len(p.shards)]
}

func (p *pacer) add(m *mediaStream) {
	n := int(p.next.Add(1))
	m.slot = n
	s := p.shardOf(m)
	s.mu.Lock()
	sl := (n / len(p.shards)) % pacerSlots
	m.idx = len(s.slots[sl])
	s.slots[sl] = append(s.slots[sl], m)
	s.mu.Unlock()
	p.active.Add(1)
}

func (p *pacer) remove(m *mediaStream) {
	s := p.shardOf(m)
	s.mu.Lock()
	sl := (m.slot / len(p.shards)) % pacerSlots
	list := s.slots[sl]
	if m.idx < len(list) && list[m.idx] == m {
		last := list[len(list)-1]
		list[m.idx] = last
		last.idx = m.idx
		s.slots[sl] = list[:len(list)-1]
		p.active.Add(-1)
	}
	s.mu.Unlock()
}

func (p *pacer) close() {
	for _, s := range p.shards {
		close(s.stop)
		<-s.done
	}
}

// loop sends slot k at k*2 ms into every 20 ms period; a late wake-up
// sends the slots it missed.
func (s *pacerShard) loop() {
	defer close(s.done)
	step := packetInterval / pacerSlots
	start := time.Now()
	var batch []*mediaStream
	var tick int64
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// a tick's packets leave in one system call (io_uring), each from
	// its call's own socket
	out := udpbatch.NewMulti(1024, 1500)
	defer out.Close()
	for {
		due := start.Add(time.Duration(tick) * step)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-s.stop:
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-s.stop:
				return
			default:
			}
		}
		now := time.Now()
		s.mu.Lock()
		batch = append(batch[:0], s.slots[tick%pacerSlots]...)
		s.mu.Unlock()
		for _, m := range batch {
			m.sendOne(now, out)
		}
		out.Flush()
		tick++
		// far behind (machine overloaded): skip ahead rather than burst
		if behind := int64(time.Since(start)/step) - tick; behind > pacerSlots {
			skip := behind - behind%pacerSlots
			tick += skip
			s.p.skipped.Add(uint64(skip / pacerSlots))
		}
	}
}
