package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// fakeCard is a voice channel that plays a tone for frames frames (as
// fast as it is read) and keeps what the bridge writes back.
type fakeCard struct {
	gen    *toneGen
	frames int
	mu     sync.Mutex
	got    []int16
}

func (c *fakeCard) Read(b []byte) (int, error) {
	if c.frames == 0 {
		return 0, io.EOF
	}
	c.frames--
	pcm := make([]int16, pcmFrame)
	if c.gen != nil {
		c.gen.fill(pcm)
	}
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
	}
	return pcmFrameBytes, nil
}

func (c *fakeCard) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i+1 < len(b); i += 2 {
		c.got = append(c.got, int16(binary.LittleEndian.Uint16(b[i:])))
	}
	return len(b), nil
}

// TestGSMAudioToneEcho: the card plays 1000 Hz, the "PBX" echoes every
// RTP packet back; what the card hears is the tone again, through G.711
// both ways and the jitter buffer, for PCMU and PCMA.
func TestGSMAudioToneEcho(t *testing.T) {
	for _, law := range []*g711Law{lawPCMU, lawPCMA} {
		var a *gsmAudio
		var sent int
		a = newGSMAudio(law, 101, 60, func(pkt []byte) error {
			sent++
			if pkt[1]&0x7f != law.pt {
				t.Errorf("%s: sent payload type %d", law.name, pkt[1]&0x7f)
			}
			a.onRTP(append([]byte(nil), pkt...))
			return nil
		})
		a.setMode(audioTalk)
		card := &fakeCard{gen: newToneGen(1000, 8000, 0, 0), frames: 200}
		if err := a.run(context.Background(), card); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: run ended with %v, want the card's EOF", law.name, err)
		}
		if sent != 200 || len(card.got) != 200*pcmFrame {
			t.Fatalf("%s: %d packets sent, %d samples to the card; want 200 and %d", law.name, sent, len(card.got), 200*pcmFrame)
		}
		tail := card.got[len(card.got)-800:]
		if s := goertzelShare(tail, 1000); s < 0.95 {
			t.Errorf("%s: the echo has %.2f of its energy at 1000 Hz", law.name, s)
		}
		if s := goertzelShare(tail, 425); s > 0.05 {
			t.Errorf("%s: the echo has %.2f of its energy at 425 Hz", law.name, s)
		}
	}
}

// TestGSMAudioSilentUntilAnswered: before the PBX answers an inbound
// call nothing goes to the PBX and the card hears silence.
func TestGSMAudioSilentUntilAnswered(t *testing.T) {
	sent := 0
	a := newGSMAudio(lawPCMA, -1, 60, func([]byte) error { sent++; return nil })
	card := &fakeCard{gen: newToneGen(1000, 8000, 0, 0), frames: 20}
	a.run(context.Background(), card)
	if sent != 0 {
		t.Errorf("%d packets sent while silent", sent)
	}
	for _, s := range card.got {
		if s != 0 {
			t.Fatalf("the card heard %d while silent", s)
		}
	}
}

// TestGSMAudioDTMF: digits from the GSM side become RFC 4733 events
// (marker on the first, three end packets, audio replaced meanwhile); a
// second bridge reading them reports each digit once.
func TestGSMAudioDTMF(t *testing.T) {
	var digits []byte
	rx := newGSMAudio(lawPCMU, 101, 60, func([]byte) error { return nil })
	rx.onDigit = func(d byte) { digits = append(digits, d) }
	var events, ends, markers int
	tx := newGSMAudio(lawPCMU, 101, 60, func(pkt []byte) error {
		if pkt[1]&0x7f == 101 {
			events++
			if pkt[rtpHeaderLen+1]&0x80 != 0 {
				ends++
			}
			if pkt[1]&0x80 != 0 {
				markers++
			}
		}
		rx.onRTP(append([]byte(nil), pkt...))
		return nil
	})
	tx.setMode(audioTalk)
	if !tx.queueDigits("5#") {
		t.Fatal("queueDigits refused with telephone-event agreed")
	}
	tx.run(context.Background(), &fakeCard{frames: 40})
	if string(digits) != "5#" {
		t.Errorf("digits received %q, want \"5#\"", digits)
	}
	if markers != 2 || ends != 6 || events != 2*(dtmfToneFrames+2) {
		t.Errorf("%d event packets, %d end packets, %d markers; want %d, 6, 2", events, ends, markers, 2*(dtmfToneFrames+2))
	}
	if newGSMAudio(lawPCMU, -1, 60, nil).queueDigits("1") {
		t.Error("queueDigits accepted digits the PBX has no telephone-event for")
	}
}

// TestGSMAudioRingback: an outbound call's early media is generated
// 425 Hz ringback while the card is silent, and the card's own tones
// when it carries them.
func TestGSMAudioRingback(t *testing.T) {
	var mu sync.Mutex
	var got []int16
	a := newGSMAudio(lawPCMA, -1, 60, func(pkt []byte) error {
		p, _, _ := rtpPayload(pkt)
		mu.Lock()
		got = append(got, lawPCMA.decodeFrame(make([]int16, len(p)), p)...)
		mu.Unlock()
		return nil
	})
	a.setMode(audioRingback)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.ringbackLoop(ctx)
	testenv.Until(5*time.Second, "800 samples of ringback", testenv.Cond(func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 800
	}))
	mu.Lock()
	gen := append([]int16(nil), got...)
	got = nil
	mu.Unlock()
	if len(gen) < 800 || goertzelShare(gen[:800], 425) < 0.95 {
		t.Fatalf("generated ringback: %d samples, want 800 at 425 Hz", len(gen))
	}
	// the card now carries the network's tone (440 Hz): it goes instead
	a.run(ctx, &fakeCard{gen: newToneGen(440, 8000, 0, 0), frames: 10})
	mu.Lock()
	net := append([]int16(nil), got...)
	mu.Unlock()
	if len(net) < 1600 || goertzelShare(net[len(net)-800:], 440) < 0.95 {
		t.Errorf("the card's ringback did not replace the generated one (%d samples)", len(net))
	}
}

func TestRTPPayload(t *testing.T) {
	pkt := make([]byte, rtpHeaderLen+8+8+4)
	putRTPHeader(pkt, 8, false, 1, 2, 3)
	pkt[0] |= 0x01 | 0x10 | 0x20 // one CSRC, an extension, padding
	binary.BigEndian.PutUint16(pkt[rtpHeaderLen+4+2:], 1)
	pkt[len(pkt)-1] = 2
	p, pt, ok := rtpPayload(pkt)
	if !ok || pt != 8 || len(p) != 6 {
		t.Errorf("payload %d bytes pt %d ok %v; want 6 bytes of pt 8", len(p), pt, ok)
	}
	if _, _, ok := rtpPayload(pkt[:10]); ok {
		t.Error("a 10-byte packet parsed")
	}
}

// BenchmarkGSMAudioFrame is the bridge's work for one 20 ms frame each
// way: a card frame encoded and sent, an RTP packet decoded into the
// jitter buffer, a frame pulled for the card (the APU's budget is one
// such frame per 20 ms per call).
func BenchmarkGSMAudioFrame(b *testing.B) {
	a := newGSMAudio(lawPCMA, 101, 60, func(pkt []byte) error { return nil })
	a.setMode(audioTalk)
	gen := newToneGen(1000, 8000, 0, 0)
	pcm := make([]int16, pcmFrame)
	out := make([]int16, pcmFrame)
	pkt := make([]byte, rtpHeaderLen+pcmFrame)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		gen.fill(pcm)
		a.fromCard(pcm)
		putRTPHeader(pkt, lawPCMA.pt, false, uint16(i), uint32(i*pcmFrame), 7)
		lawPCMA.encodeFrame(pkt[rtpHeaderLen:], pcm)
		a.onRTP(pkt)
		a.jb.pull(out)
	}
}
