package gateway

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// goertzelShare is the share of x's energy at hz (0..1): the test's
// frequency check, as a DTMF detector does it.
func goertzelShare(x []int16, hz float64) float64 {
	w := 2 * math.Pi * hz / pcmRate
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range x {
		f := float64(v)
		s := f + coeff*s1 - s2
		s2, s1 = s1, s
		total += f * f
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	if total == 0 {
		return 0
	}
	// a pure tone of N samples gives power N^2 A^2/4 and energy N A^2/2
	return power / (total * float64(len(x)) / 2)
}

// simStream feeds a jitter buffer from a sender whose clock runs at
// (1+drift) of the card's, for frames card frames, with loss and reorder
// hooks; it returns what the card played.
type simStream struct {
	drift   float64
	jitter  float64 // ms of random delay, uniform
	lossPct float64
	swap    bool // swap every 10th pair of packets
	frames  int
	tone    float64 // Hz at the sender's clock; 0: marker payload (seq number)
	seed    uint64
}

func (s simStream) run(t *testing.T, jb *jitterBuffer) []int16 {
	t.Helper()
	rng := rand.New(rand.NewPCG(s.seed, 1))
	type pend struct {
		at  float64 // card time, ms
		seq int
	}
	var queue []pend
	gen := newToneGen(s.tone, 8000, 0, 0)
	payload := func(seq int) []int16 {
		p := make([]int16, pcmFrame)
		if s.tone > 0 {
			gen.fill(p)
			return p
		}
		for i := range p {
			p[i] = int16(seq)
		}
		return p
	}
	made := map[int][]int16{}
	var out []int16
	nextSeq := 0
	for f := 0; f < s.frames; f++ {
		now := float64(f) * 20
		// the sender emits packet k at k*20 ms of its own clock
		for float64(nextSeq)*20/(1+s.drift) <= now {
			at := float64(nextSeq)*20/(1+s.drift) + rng.Float64()*s.jitter
			made[nextSeq] = payload(nextSeq)
			if rng.Float64()*100 >= s.lossPct {
				queue = append(queue, pend{at: at, seq: nextSeq})
			}
			nextSeq++
		}
		var keep []pend
		var due []pend
		for _, p := range queue {
			if p.at <= now {
				due = append(due, p)
			} else {
				keep = append(keep, p)
			}
		}
		queue = keep
		for i := 0; s.swap && i+1 < len(due); i += 2 {
			if due[i].seq%10 == 0 {
				due[i], due[i+1] = due[i+1], due[i]
			}
		}
		for _, p := range due {
			jb.push(0x1234, uint32(p.seq*pcmFrame+1000), made[p.seq])
		}
		fr := make([]int16, pcmFrame)
		jb.pull(fr)
		out = append(out, fr...)
	}
	return out
}

func TestG711RoundTrip(t *testing.T) {
	for _, law := range []*g711Law{lawPCMU, lawPCMA} {
		worst := 0.0
		for x := -32768; x <= 32767; x++ {
			y := law.table[law.encode(int16(x))]
			// G.711 keeps 4 mantissa bits: the error is at most 1/32 of
			// the magnitude plus the smallest step
			e := math.Abs(float64(y)-float64(x)) / (math.Abs(float64(x)) + 128)
			worst = max(worst, e)
		}
		if worst > 1.0/16 {
			t.Errorf("%s: worst relative round-trip error %.3f", law.name, worst)
		}
		for b := 0; b < 256; b++ {
			if got := law.encode(law.table[b]); law.table[got] != law.table[b] {
				t.Errorf("%s: code %#x decodes to %d, which encodes to %#x", law.name, b, law.table[b], got)
			}
		}
	}
	// reference points of the Sun reference implementation
	for _, c := range []struct {
		law  *g711Law
		code byte
		lin  int16
	}{{lawPCMU, 0xff, 0}, {lawPCMU, 0x00, -32124}, {lawPCMU, 0x80, 32124}, {lawPCMA, 0xd5, 8}, {lawPCMA, 0x55, -8}, {lawPCMA, 0xaa, 32256}} {
		if got := c.law.table[c.code]; got != c.lin {
			t.Errorf("%s %#x = %d, want %d", c.law.name, c.code, got, c.lin)
		}
	}
	if linearToUlaw(0) != 0xff || linearToAlaw(0) != 0xd5 {
		t.Errorf("silence encodes to %#x / %#x, want 0xff / 0xd5", linearToUlaw(0), linearToAlaw(0))
	}
}

// TestJitterDrift: a sender 0.5 % fast or slow for two minutes. The buffer
// must neither run dry nor overflow, must measure the drift, and the tone
// must come out clean in every 50 ms window once settled (a dropped or
// doubled sample spreads energy away from the tone).
func TestJitterDrift(t *testing.T) {
	for _, drift := range []float64{0.005, -0.005, 0} {
		jb := newJitterBuffer(60, 300)
		out := simStream{drift: drift, jitter: 15, frames: 6000, tone: 1000, seed: 7}.run(t, jb)
		st := jb.stats()
		if st.Resets != 0 || st.Underruns != 0 {
			t.Errorf("drift %+.1f%%: %d resets, %d underruns (the depth ran away)", drift*100, st.Resets, st.Underruns)
		}
		if got := st.DriftPPM / 1e6; math.Abs(got-drift) > 0.0008 {
			t.Errorf("drift %+.1f%%: measured %+.3f%%", drift*100, got*100)
		}
		if want := drift * float64(len(out)); math.Abs(float64(st.Stretched)-want) > 800 {
			t.Errorf("drift %+.1f%%: stretched %d samples, want about %.0f", drift*100, st.Stretched, want)
		}
		if st.DepthMS > 160 {
			t.Errorf("drift %+.1f%%: depth settled at %.0f ms", drift*100, st.DepthMS)
		}
		worst := 1.0
		for w := 10 * pcmRate; w+400 <= len(out); w += 400 {
			// the local pitch moves by up to the controller's 1.25 % while it
			// corrects; a click would spread energy over all frequencies
			best := 0.0
			for d := -0.0125; d <= 0.0126; d += 0.0025 {
				best = max(best, goertzelShare(out[w:w+400], 1000*(1+d)))
			}
			worst = min(worst, best)
		}
		if worst < 0.95 {
			t.Errorf("drift %+.1f%%: worst 50 ms window has %.2f of its energy in the tone", drift*100, worst)
		}
		t.Logf("drift %+.1f%%: measured %+.0f ppm, depth %.0f ms, stretched %d, worst tone share %.3f, %+v", drift*100, st.DriftPPM, st.DepthMS, st.Stretched, worst, st)
	}
}

// TestJitterLossReorder: without drift or jitter the card plays the
// packets in order, exactly one per frame; lost ones are concealed in
// place (the rest keep their time), swapped ones are put back in order.
func TestJitterLossReorder(t *testing.T) {
	jb := newJitterBuffer(60, 300)
	out := simStream{lossPct: 5, swap: true, frames: 1000, seed: 3}.run(t, jb)
	st := jb.stats()
	first := -1
	lost := 0
	for f := 0; f < 1000; f++ {
		fr := out[f*pcmFrame : (f+1)*pcmFrame]
		if first < 0 {
			if fr[0] == 0 && fr[pcmFrame-1] == 0 {
				continue // prefill
			}
			first = f - int(fr[0])
		}
		want := int16(f - first)
		if fr[0] != want || fr[pcmFrame-1] != want {
			if fr[0] == want || fr[pcmFrame-1] == want {
				t.Fatalf("frame %d mixes packets: %d..%d, want %d", f, fr[0], fr[pcmFrame-1], want)
			}
			lost++
			continue
		}
	}
	if st.Stretched != 0 || st.Resets != 0 {
		t.Errorf("a clock-true stream was stretched by %d samples, %d resets", st.Stretched, st.Resets)
	}
	if lost < 20 || uint64(lost) != st.Concealed {
		t.Errorf("%d frames not played as sent, %d concealed (5%% of 1000 lost)", lost, st.Concealed)
	}
	if st.Late != 0 {
		t.Errorf("%d packets late although reordering stayed within the buffer", st.Late)
	}
}

// TestJitterRestart: a new SSRC starts over once the old stream went
// quiet; a stray packet of another stream meanwhile is dropped.
func TestJitterRestart(t *testing.T) {
	jb := newJitterBuffer(40, 300)
	fr := make([]int16, pcmFrame)
	pkt := func(v int16) []int16 {
		p := make([]int16, pcmFrame)
		for i := range p {
			p[i] = v
		}
		return p
	}
	for i := 0; i < 10; i++ {
		jb.push(1, uint32(i*pcmFrame), pkt(1))
		jb.pull(fr)
	}
	// a stray packet of another stream while this one flows: ignored
	jb.push(3, 5555, pkt(3))
	jb.push(1, uint32(10*pcmFrame), pkt(1))
	jb.pull(fr)
	if fr[0] != 1 || jb.stats().Foreign != 1 || jb.stats().Resets != 0 {
		t.Errorf("a stray packet: played %d, %+v; want 1 played, 1 foreign, no reset", fr[0], jb.stats())
	}
	// the first stream stops, a new one starts: taken after the hold
	later := time.Now().Add(jbSSRCHold)
	jb.now = func() time.Time { return later }
	jb.push(2, 999999, pkt(2))
	jb.push(2, 999999+pcmFrame, pkt(2))
	jb.pull(fr)
	if fr[0] != 2 {
		t.Errorf("after an SSRC change the buffer plays %d, want the new stream's 2", fr[0])
	}
	if jb.stats().Resets != 1 {
		t.Errorf("resets %d, want 1", jb.stats().Resets)
	}
}
