package gateway

// G.711 (ITU-T G.711, the Sun reference algorithm): the card's voice channel
// carries 8 kHz 16-bit linear PCM, the PBX side PCMU (mu-law, RTP payload
// type 0) or PCMA (A-law, 8). Decoding goes through 256-entry tables; encoding
// is a few shifts per sample, cheaper than a 64 K table in cache.

// g711Law is one of the two companding laws.
type g711Law struct {
	name   string // rtpmap encoding name
	pt     uint8  // static RTP payload type
	encode func(int16) byte
	table  *[256]int16
}

var (
	ulawTable = func() *[256]int16 {
		var t [256]int16
		for i := range t {
			t[i] = ulawToLinear(byte(i))
		}
		return &t
	}()
	alawTable = func() *[256]int16 {
		var t [256]int16
		for i := range t {
			t[i] = alawToLinear(byte(i))
		}
		return &t
	}()
	lawPCMU = &g711Law{name: "PCMU", pt: 0, encode: linearToUlaw, table: ulawTable}
	lawPCMA = &g711Law{name: "PCMA", pt: 8, encode: linearToAlaw, table: alawTable}
)

// encodeFrame companders pcm into dst (len(dst) >= len(pcm)).
func (l *g711Law) encodeFrame(dst []byte, pcm []int16) []byte {
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		dst[i] = l.encode(s)
	}
	return dst
}

// decodeFrame expands payload into dst.
func (l *g711Law) decodeFrame(dst []int16, payload []byte) []int16 {
	dst = dst[:len(payload)]
	for i, b := range payload {
		dst[i] = l.table[b]
	}
	return dst
}

const (
	ulawBias = 0x84
	ulawClip = 32635
)

func linearToUlaw(s int16) byte {
	pcm := int(s)
	sign := 0
	if pcm < 0 {
		pcm, sign = -pcm, 0x80
	}
	pcm = min(pcm, ulawClip) + ulawBias
	exp := 7
	for mask := 0x4000; pcm&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (pcm >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

func ulawToLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + ulawBias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(ulawBias - t)
	}
	return int16(t - ulawBias)
}

// alawSegEnd are the upper ends of the A-law segments (13-bit magnitude).
var alawSegEnd = [8]int{0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff}

func linearToAlaw(s int16) byte {
	pcm := int(s) >> 3
	mask := 0xd5
	if pcm < 0 {
		mask = 0x55
		pcm = -pcm - 1
	}
	seg := 8
	for i, end := range alawSegEnd {
		if pcm <= end {
			seg = i
			break
		}
	}
	if seg >= 8 {
		return byte(0x7f ^ mask)
	}
	aval := seg << 4
	if seg < 2 {
		aval |= (pcm >> 1) & 0x0f
	} else {
		aval |= (pcm >> seg) & 0x0f
	}
	return byte(aval ^ mask)
}

func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	switch seg := int(a&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}
