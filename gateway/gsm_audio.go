package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.bug.st/serial"
)

// The GSM audio bridge: the card's voice channel (8 kHz s16le mono PCM,
// 320 bytes per 20 ms, clocked by the card) on one side, a G.711 RTP
// stream with the PBX on the other. The card's clock drives both ways:
// each frame read from the card goes out as one RTP packet (so the RTP
// timestamps follow the card's clock and the PBX's own jitter buffer
// deals with it), and for each frame read one frame is pulled from the
// jitter buffer and written back (so the PBX's clock is reconciled with
// the card's there; see gsm_audio_jitter.go).

const (
	pcmFrameBytes = pcmFrame * 2
	// dtmfToneFrames is how long a digit from the GSM side lasts toward
	// the PBX (100 ms), then dtmfGapFrames of audio before the next.
	dtmfToneFrames = 5
	dtmfGapFrames  = 3
	// ringbackQuiet: without network tones from the card for this long
	// the box sends its own ringback (a card that gives no early audio).
	ringbackQuiet = 300 * time.Millisecond
	// toneEnergy is the mean square above which a card frame counts as
	// carrying sound (-40 dBFS): the network's ringback or announcements.
	toneEnergy = 32768 * 32768 / 10000.0
)

// audioMode says what goes to the PBX.
type audioMode int32

const (
	audioSilent   audioMode = iota // nothing yet (inbound call before the PBX answered)
	audioRingback                  // early media: the card's tones, else generated ringback
	audioTalk                      // the card's audio
)

// gsmAudio is one call's audio bridge.
type gsmAudio struct {
	law     *g711Law
	tePT    int // telephone-event payload type toward and from the PBX, -1: none
	send    func(pkt []byte) error
	jb      *jitterBuffer
	onDigit func(d byte) // a digit the PBX sent (RFC 4733), on the RTP goroutine

	mode     atomic.Int32
	lastTone atomic.Int64 // unix ns of the last card frame with sound

	mu     sync.Mutex // the outgoing stream: card loop and ringback ticker
	ssrc   uint32
	seq    uint16
	ts     uint32
	digits []byte
	tone   struct {
		digit  byte
		start  uint32
		frames int // sent of this event so far; -gap while pausing after it
		active bool
	}
	ring *toneGen

	// the PBX's DTMF events, on the RTP goroutine only
	haveEvent bool
	lastEvent uint32

	framesIn, framesOut, rtpIn, rtpOut, rtpBad atomic.Uint64
}

func newGSMAudio(law *g711Law, tePT int, jitterMS int, send func([]byte) error) *gsmAudio {
	if jitterMS <= 0 {
		jitterMS = 60
	}
	return &gsmAudio{law: law, tePT: tePT, send: send, jb: newJitterBuffer(jitterMS, max(300, 4*jitterMS)), ssrc: randUint32(), seq: uint16(randUint32()), ts: randUint32(), ring: ringbackTone()}
}

func (a *gsmAudio) setMode(m audioMode) { a.mode.Store(int32(m)) }

// queueDigits sends digits to the PBX as RFC 4733 events, one after the
// other; without telephone-event they are dropped (the PBX refused it).
func (a *gsmAudio) queueDigits(d string) bool {
	if a.tePT < 0 {
		return false
	}
	a.mu.Lock()
	a.digits = append(a.digits, d...)
	a.mu.Unlock()
	return true
}

// run moves audio until the port fails or ctx ends (the caller closes
// the port to stop it).
func (a *gsmAudio) run(ctx context.Context, port io.ReadWriter) error {
	in := make([]byte, pcmFrameBytes)
	pcm := make([]int16, pcmFrame)
	out := make([]int16, pcmFrame)
	outB := make([]byte, pcmFrameBytes)
	for ctx.Err() == nil {
		if _, err := io.ReadFull(port, in); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("audio port: %w", err)
		}
		a.framesIn.Add(1)
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(in[2*i:]))
		}
		a.fromCard(pcm)
		if audioMode(a.mode.Load()) == audioTalk {
			a.jb.pull(out)
		} else {
			clear(out)
		}
		for i, s := range out {
			binary.LittleEndian.PutUint16(outB[2*i:], uint16(s))
		}
		if _, err := port.Write(outB); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("audio port: %w", err)
		}
		a.framesOut.Add(1)
	}
	return nil
}

// fromCard sends one card frame toward the PBX as the mode says.
func (a *gsmAudio) fromCard(pcm []int16) {
	switch audioMode(a.mode.Load()) {
	case audioSilent:
		return
	case audioRingback:
		if frameEnergy(pcm) < toneEnergy {
			return // the ticker sends generated ringback while the card is quiet
		}
		a.lastTone.Store(time.Now().UnixNano())
	}
	a.sendFrame(pcm)
}

// ringbackLoop sends generated ringback every 20 ms while the mode is
// audioRingback and the card carries no tones of its own, until ctx ends.
func (a *gsmAudio) ringbackLoop(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	pcm := make([]int16, pcmFrame)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if audioMode(a.mode.Load()) != audioRingback || time.Since(time.Unix(0, a.lastTone.Load())) < ringbackQuiet {
			continue
		}
		a.mu.Lock()
		a.ring.fill(pcm)
		a.mu.Unlock()
		a.sendFrame(pcm)
	}
}

// sendFrame sends 20 ms of audio, or the DTMF event that replaces it.
func (a *gsmAudio) sendFrame(pcm []int16) {
	var pkt [rtpHeaderLen + pcmFrame]byte
	a.mu.Lock()
	a.seq++
	a.ts += pcmFrame
	seq, ts := a.seq, a.ts
	if n, ok := a.dtmfPacketLocked(pkt[:]); ok {
		a.mu.Unlock()
		a.emit(pkt[:n])
		return
	}
	a.mu.Unlock()
	putRTPHeader(pkt[:], a.law.pt, false, seq, ts, a.ssrc)
	a.law.encodeFrame(pkt[rtpHeaderLen:], pcm)
	a.emit(pkt[:])
}

// dtmfPacketLocked builds the RFC 4733 packet for this frame if a digit
// is being sent; the end packet goes three times (RFC 4733 2.5.1.4).
func (a *gsmAudio) dtmfPacketLocked(pkt []byte) (int, bool) {
	t := &a.tone
	if !t.active {
		if t.frames < 0 {
			t.frames++ // the gap after a digit
			return 0, false
		}
		if len(a.digits) == 0 {
			return 0, false
		}
		ev, ok := dtmfEvent(a.digits[0])
		a.digits = a.digits[1:]
		if !ok {
			return 0, false
		}
		t.digit, t.start, t.frames, t.active = ev, a.ts, 0, true
	}
	t.frames++
	end := t.frames >= dtmfToneFrames
	putRTPHeader(pkt, uint8(a.tePT), t.frames == 1, a.seq, t.start, a.ssrc)
	p := pkt[rtpHeaderLen:]
	p[0] = t.digit
	p[1] = 10 // -10 dBm0
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:4], uint16(t.frames*pcmFrame))
	if end {
		for range 2 {
			a.emitLocked(pkt[:rtpHeaderLen+4])
		}
		t.active, t.frames = false, -dtmfGapFrames
	}
	return rtpHeaderLen + 4, true
}

// emitLocked sends a repeat of an end packet (same sequence number is
// what RFC 4733 asks for the retransmissions).
func (a *gsmAudio) emitLocked(pkt []byte) {
	if a.send(pkt) == nil {
		a.rtpOut.Add(1)
	}
}

func (a *gsmAudio) emit(pkt []byte) {
	if a.send(pkt) == nil {
		a.rtpOut.Add(1)
	}
}

func putRTPHeader(b []byte, pt uint8, marker bool, seq uint16, ts, ssrc uint32) {
	b[0] = 0x80
	b[1] = pt
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:4], seq)
	binary.BigEndian.PutUint32(b[4:8], ts)
	binary.BigEndian.PutUint32(b[8:12], ssrc)
}

// onRTP takes one packet from the PBX (on the leg's poller goroutine).
func (a *gsmAudio) onRTP(pkt []byte) {
	payload, pt, ok := rtpPayload(pkt)
	if !ok {
		a.rtpBad.Add(1)
		return
	}
	a.rtpIn.Add(1)
	ts := binary.BigEndian.Uint32(pkt[4:8])
	switch {
	case pt == a.law.pt:
		pcm := make([]int16, len(payload))
		a.jb.push(binary.BigEndian.Uint32(pkt[8:12]), ts, a.law.decodeFrame(pcm, payload))
	case int(pt) == a.tePT && len(payload) >= 4:
		// one event is many packets with the same timestamp: report the
		// digit once, at its first packet
		if a.haveEvent && ts == a.lastEvent {
			return
		}
		a.haveEvent, a.lastEvent = true, ts
		if d, ok := dtmfDigit(payload[0]); ok && a.onDigit != nil {
			a.onDigit(d)
		}
	}
}

// rtpPayload returns an RTP packet's payload and payload type, past
// CSRCs, header extension and padding.
func rtpPayload(pkt []byte) ([]byte, uint8, bool) {
	if len(pkt) < rtpHeaderLen || pkt[0]>>6 != 2 {
		return nil, 0, false
	}
	off := rtpHeaderLen + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			return nil, 0, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 && end > 0 {
		end -= int(pkt[end-1])
	}
	if off > end {
		return nil, 0, false
	}
	return pkt[off:end], pkt[1] & 0x7f, true
}

// openAudioPort opens the card's voice channel: a tty (the modem's USB
// audio/PCUI port, raw) or, for modemsim, a unix socket.
func openAudioPort(ctx context.Context, path string) (io.ReadWriteCloser, error) {
	if path == "" {
		return nil, errors.New("the modem reports no audio port: the card cannot carry voice")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audio port: %w", err)
	}
	if fi.Mode()&os.ModeSocket != 0 {
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, fmt.Errorf("audio port %s: %w", path, err)
		}
		return c, nil
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("audio port %s: %w", path, err)
	}
	return p, nil
}

// stats is the bridge's state for the call's status.
func (a *gsmAudio) stats() GSMAudioStats {
	return GSMAudioStats{Codec: a.law.name, CardFramesIn: a.framesIn.Load(), CardFramesOut: a.framesOut.Load(), RTPIn: a.rtpIn.Load(), RTPOut: a.rtpOut.Load(), Jitter: a.jb.stats()}
}

// GSMAudioStats are a GSM call's media counters.
type GSMAudioStats struct {
	Codec         string      `json:"codec"`
	CardFramesIn  uint64      `json:"card_frames_in"`
	CardFramesOut uint64      `json:"card_frames_out"`
	RTPIn         uint64      `json:"rtp_in"`
	RTPOut        uint64      `json:"rtp_out"`
	Jitter        jitterStats `json:"jitter"`
}
