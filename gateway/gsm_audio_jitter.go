package gateway

import (
	"sort"
	"sync"
	"time"
)

// The jitter buffer sits between the PBX's RTP stream and the card's voice
// channel. The card's PCM clock pulls one frame every 20 ms of its own time;
// the PBX's sender pushes packets on its own clock. Two crystals never agree
// exactly (±0.5 % is what cheap ones drift apart), so the buffer depth creeps
// up (the sender is fast) or down (slow). A PI controller on the smoothed
// depth decides how many RTP samples each card frame consumes (160 ± a
// fraction, at most maxAdjust); the consumed samples are resampled linearly
// onto the 160 output samples, so a correction is a 0.6 % pitch change over
// one frame, not a click. The controller's integral is the measured drift.

const (
	pcmRate      = 8000
	pcmFrame     = 160 // samples per 20 ms
	jbMaxAdjust  = 2.0 // samples per frame the controller may add or take (1.25 %)
	jbDeadband   = 48  // samples (6 ms) of depth error left alone: jitter, one lost packet
	jbSmoothing  = 16  // frames of the depth's moving average
	jbKp         = 1.0 / 100
	jbKi         = 1.0 / 20000
	jbResyncGap  = 2 * pcmRate // a timestamp jump of 2 s restarts the buffer
	jbLossReset  = 50          // frames of underrun (1 s) before prefilling again
	jbConcealDec = 0.7         // gain per concealed frame: a lost packet fades
	// jbSSRCHold: a packet of another stream is taken only once the
	// current one was silent this long (a PBX moving the media stops the
	// old stream; a stray or echoed packet must not restart the buffer)
	jbSSRCHold = 200 * time.Millisecond
)

// jitterStats are the buffer's counters, for the call's status.
type jitterStats struct {
	Received  uint64  `json:"received"`
	Late      uint64  `json:"late"`      // arrived after its playout time
	Duplicate uint64  `json:"duplicate"` // same timestamp twice
	Concealed uint64  `json:"concealed"` // frames (or parts) made up for missing samples
	Underruns uint64  `json:"underruns"` // card frames with the buffer empty
	Resets    uint64  `json:"resets"`    // restarts on SSRC change, jumps or overflow
	Foreign   uint64  `json:"foreign"`   // packets of another stream while this one flows
	Stretched int64   `json:"stretched"` // net samples consumed beyond the card's (drift taken out)
	DriftPPM  float64 `json:"drift_ppm"` // measured: the sender's clock vs the card's, parts per million
	DepthMS   float64 `json:"depth_ms"`  // smoothed depth
}

type jbPacket struct {
	ts  int64
	pcm []int16
}

type jitterBuffer struct {
	mu     sync.Mutex
	target int // prefill, samples
	limit  int // depth beyond which the oldest audio is thrown away

	now      func() time.Time
	haveRef  bool
	ssrc     uint32
	lastAt   time.Time // the current stream's last packet
	refTS    uint32    // unwrapping: the last timestamp seen and its extension
	refExt   int64
	pkts     []jbPacket // sorted by ts
	maxEnd   int64      // end of the newest audio received
	started  bool
	next     int64 // timestamp of the next sample to play
	setpoint float64
	avg      float64
	integ    float64
	frac     float64
	prev     [pcmFrame]int16 // the last frame played, for concealment
	gain     float64         // concealment gain, decays per lost frame
	dry      int             // consecutive underrun frames
	scratch  []int16
	filled   []bool
	st       jitterStats
}

// newJitterBuffer holds target ms of audio before playing and at most
// limit ms (then it drops the oldest).
func newJitterBuffer(targetMS, limitMS int) *jitterBuffer {
	return &jitterBuffer{now: time.Now, target: targetMS * pcmRate / 1000, limit: limitMS * pcmRate / 1000, scratch: make([]int16, pcmFrame+int(jbMaxAdjust)+2), filled: make([]bool, pcmFrame+int(jbMaxAdjust)+2)}
}

func (j *jitterBuffer) resetLocked() {
	j.haveRef, j.started = false, false
	j.pkts = j.pkts[:0]
	j.avg, j.integ, j.frac, j.dry = 0, 0, 0, 0
	j.st.Resets++
}

// push takes one packet's decoded samples (pcm is kept; the caller gives
// up ownership).
func (j *jitterBuffer) push(ssrc uint32, ts uint32, pcm []int16) {
	if len(pcm) == 0 {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.st.Received++
	now := j.now()
	if j.haveRef && ssrc != j.ssrc {
		if now.Sub(j.lastAt) < jbSSRCHold {
			j.st.Foreign++
			return
		}
		j.resetLocked() // a new stream (the PBX re-anchored the media)
	}
	j.lastAt = now
	var ext int64
	if !j.haveRef {
		ext = int64(ts)
		j.haveRef, j.ssrc = true, ssrc
	} else {
		ext = j.refExt + int64(int32(ts-j.refTS))
	}
	j.refTS, j.refExt = ts, ext
	end := ext + int64(len(pcm))
	if j.started {
		if end <= j.next {
			j.st.Late++
			return
		}
		if ext > j.next+jbResyncGap || end < j.next-jbResyncGap {
			j.resetLocked()
			j.haveRef, j.ssrc, j.refTS, j.refExt = true, ssrc, ts, ext
		}
	}
	i := sort.Search(len(j.pkts), func(i int) bool { return j.pkts[i].ts >= ext })
	if i < len(j.pkts) && j.pkts[i].ts == ext {
		j.st.Duplicate++
		return
	}
	j.pkts = append(j.pkts, jbPacket{})
	copy(j.pkts[i+1:], j.pkts[i:])
	j.pkts[i] = jbPacket{ts: ext, pcm: pcm}
	if len(j.pkts) == 1 {
		j.maxEnd = end // the first since a reset, or all before it played
	} else {
		j.maxEnd = max(end, j.maxEnd)
	}
	if !j.started {
		j.next = j.pkts[0].ts
		if j.maxEnd-j.next >= int64(j.target) {
			j.started = true
			j.setpoint = -1 // taken at the first frame played
			j.gain = 1
		}
		return
	}
	if over := j.maxEnd - j.next - int64(j.limit); over > 0 {
		// far behind (the sender burst, or the controller could not keep
		// up): skip to target depth rather than let the delay grow
		j.next = j.maxEnd - int64(j.target)
		j.dropPlayedLocked()
		j.st.Resets++
	}
}

// pull fills out (pcmFrame samples) with the next frame for the card.
func (j *jitterBuffer) pull(out []int16) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.started {
		clear(out)
		return
	}
	depth := float64(j.maxEnd - j.next)
	if depth <= 0 {
		// nothing to play: conceal, and keep the playout point so packets
		// that are only late still play
		j.st.Underruns++
		j.concealLocked(out)
		j.dry++
		if j.dry >= jbLossReset {
			// the stream stopped (hold, silence suppression): start over
			// with a fresh prefill when it comes back
			j.started = false
			j.pkts = j.pkts[:0]
			j.haveRef = false
		}
		return
	}
	j.dry = 0
	if j.setpoint < 0 {
		j.setpoint, j.avg = depth, depth
	}
	j.avg += (depth - j.avg) / jbSmoothing
	err := j.avg - j.setpoint
	switch {
	case err > jbDeadband:
		err -= jbDeadband
	case err < -jbDeadband:
		err += jbDeadband
	default:
		err = 0
	}
	j.integ = clampF(j.integ+err*jbKi, -jbMaxAdjust, jbMaxAdjust)
	u := clampF(err*jbKp+j.integ, -jbMaxAdjust, jbMaxAdjust)
	j.frac += pcmFrame + u
	c := int(j.frac)
	j.frac -= float64(c)
	in := j.scratch[:c+1]
	if j.gatherLocked(in) {
		j.st.Concealed++
	}
	if c == pcmFrame {
		copy(out, in[:pcmFrame])
	} else {
		resampleLinear(out[:pcmFrame], in, c)
	}
	j.st.Stretched += int64(c - pcmFrame)
	j.next += int64(c)
	copy(j.prev[:], out[:pcmFrame])
	j.dropPlayedLocked()
}

// gatherLocked copies the samples from next on into in, concealing the
// missing ones; it says whether any was missing.
func (j *jitterBuffer) gatherLocked(in []int16) bool {
	have := 0
	missing := false
	filled := j.filled[:len(in)]
	clear(filled)
	for _, p := range j.pkts {
		lo := max(p.ts, j.next)
		hi := min(p.ts+int64(len(p.pcm)), j.next+int64(len(in)))
		for t := lo; t < hi; t++ {
			in[t-j.next] = p.pcm[t-p.ts]
			filled[t-j.next] = true
			have++
		}
	}
	if have < len(in)-1 { // the look-ahead sample may be missing at the edge
		missing = true
	}
	for k := range in {
		if !filled[k] {
			in[k] = int16(float64(j.prev[k%pcmFrame]) * j.gain * jbConcealDec)
		}
	}
	if missing {
		j.gain *= jbConcealDec
	} else {
		j.gain = 1
	}
	return missing
}

func (j *jitterBuffer) concealLocked(out []int16) {
	j.gain *= jbConcealDec
	for k := range out[:pcmFrame] {
		out[k] = int16(float64(j.prev[k]) * j.gain)
	}
	copy(j.prev[:], out[:pcmFrame])
	j.st.Concealed++
}

func (j *jitterBuffer) dropPlayedLocked() {
	n := 0
	for n < len(j.pkts) && j.pkts[n].ts+int64(len(j.pkts[n].pcm)) <= j.next {
		n++
	}
	if n > 0 {
		j.pkts = append(j.pkts[:0], j.pkts[n:]...)
	}
}

func (j *jitterBuffer) stats() jitterStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.st
	s.DriftPPM = j.integ / pcmFrame * 1e6
	s.DepthMS = j.avg * 1000 / pcmRate
	return s
}

// resampleLinear maps the first c samples of in (which holds c+1: one
// look-ahead) onto out, linearly interpolated.
func resampleLinear(out, in []int16, c int) {
	step := float64(c) / float64(len(out))
	for i := range out {
		pos := float64(i) * step
		k := int(pos)
		f := pos - float64(k)
		out[i] = int16(float64(in[k])*(1-f) + float64(in[k+1])*f)
	}
}

func clampF(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }
