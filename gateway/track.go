package gateway

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// relayTrack is what the box sends the browser on pion's packet path.
// Unlike pion's TrackLocalStaticRTP it keeps each packet's payload type:
// the relay has mapped it to the browser's numbering already, and an
// audio stream carries two (the codec's and telephone-event's), which
// TrackLocalStaticRTP would both label as the codec.
type relayTrack struct {
	codec webrtc.RTPCodecParameters // the browser's payload type for it
	id    string
	kind  webrtc.RTPCodecType

	mu       sync.RWMutex
	bindings []relayBinding
}

type relayBinding struct {
	id   string
	ssrc uint32
	w    webrtc.TrackLocalWriter
}

func newRelayTrack(codec webrtc.RTPCodecParameters, kind webrtc.RTPCodecType) *relayTrack {
	return &relayTrack{codec: codec, id: kind.String(), kind: kind}
}

func (t *relayTrack) ID() string                { return t.id }
func (t *relayTrack) RID() string               { return "" }
func (t *relayTrack) StreamID() string          { return "edgebox" }
func (t *relayTrack) Kind() webrtc.RTPCodecType { return t.kind }

// Bind picks the negotiated codec: the payload type the plan chose if
// the transceiver has it, else the same codec under another number.
func (t *relayTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	var found *webrtc.RTPCodecParameters
	for _, p := range ctx.CodecParameters() {
		if !strings.EqualFold(p.MimeType, t.codec.MimeType) || p.ClockRate != t.codec.ClockRate {
			continue
		}
		if p.PayloadType == t.codec.PayloadType {
			found = &p
			break
		}
		if found == nil {
			found = &p
		}
	}
	if found == nil {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	t.mu.Lock()
	t.bindings = append(t.bindings, relayBinding{id: ctx.ID(), ssrc: uint32(ctx.SSRC()), w: ctx.WriteStream()})
	t.mu.Unlock()
	return *found, nil
}

func (t *relayTrack) Unbind(ctx webrtc.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, b := range t.bindings {
		if b.id == ctx.ID() {
			t.bindings = append(t.bindings[:i], t.bindings[i+1:]...)
			return nil
		}
	}
	return webrtc.ErrUnbindFailed
}

// Write sends one RTP packet under the sender's SSRC, payload type and
// everything else as given.
func (t *relayTrack) Write(pkt []byte) (int, error) {
	var p rtp.Packet
	if err := p.Unmarshal(pkt); err != nil {
		return 0, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, b := range t.bindings {
		p.SSRC = b.ssrc
		if _, err := b.w.WriteRTP(&p.Header, p.Payload); err != nil {
			return 0, err
		}
	}
	return len(pkt), nil
}
