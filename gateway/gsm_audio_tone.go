package gateway

import "math"

// toneGen makes a sine tone, optionally keyed on and off (cadence), at
// the PCM rate. The phase runs on across frames and pauses.
type toneGen struct {
	step    float64 // radians per sample
	phase   float64
	amp     float64
	on, off int // cadence in samples; off 0: continuous
	pos     int
}

func newToneGen(hz, amplitude float64, onMS, offMS int) *toneGen {
	return &toneGen{step: 2 * math.Pi * hz / pcmRate, amp: amplitude, on: onMS * pcmRate / 1000, off: offMS * pcmRate / 1000}
}

// ringbackTone is the European ringing tone (ETSI ES 201 970 and the
// German network): 425 Hz, 1 s on, 4 s off, at about -12 dBm0.
func ringbackTone() *toneGen { return newToneGen(425, 6000, 1000, 4000) }

func (g *toneGen) fill(out []int16) {
	for i := range out {
		if g.off > 0 && g.pos >= g.on {
			out[i] = 0
		} else {
			out[i] = int16(g.amp * math.Sin(g.phase))
			g.phase += g.step
			if g.phase > 2*math.Pi {
				g.phase -= 2 * math.Pi
			}
		}
		if g.off > 0 {
			g.pos = (g.pos + 1) % (g.on + g.off)
		}
	}
}

// frameEnergy is the mean square of a frame: the ringback choice asks
// whether the card carries the network's own tones.
func frameEnergy(pcm []int16) float64 {
	var e float64
	for _, s := range pcm {
		e += float64(s) * float64(s)
	}
	return e / float64(max(1, len(pcm)))
}
