package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// codec is one payload type of a media section.
type codec struct {
	Name     string // lower case: opus, g722, pcmu, pcma, telephone-event, vp8, h264
	PT       uint8
	Clock    uint32
	Channels uint16
	Fmtp     string
}

func (c codec) rtpmap() string {
	name := c.Name
	switch name {
	case "opus":
		name = "opus"
	case "telephone-event":
	default:
		name = strings.ToUpper(name)
	}
	s := fmt.Sprintf("%d %s/%d", c.PT, name, c.Clock)
	if c.Channels > 1 {
		s += "/" + strconv.Itoa(int(c.Channels))
	}
	return s
}

// mediaSection is what the gateway needs of one m= line.
type mediaSection struct {
	Kind      string // audio, video
	Port      int
	Addr      netip.Addr // connection address (media or session level)
	Codecs    []codec
	Direction string // sendrecv, sendonly, recvonly, inactive
	RTCPPort  int    // from a=rtcp, else Port+1
	RTCPMux   bool
}

// sdpInfo is a parsed session description.
type sdpInfo struct {
	Audio *mediaSection
	Video *mediaSection
}

var staticPT = map[uint8]codec{
	0: {Name: "pcmu", PT: 0, Clock: 8000, Channels: 1},
	8: {Name: "pcma", PT: 8, Clock: 8000, Channels: 1},
	9: {Name: "g722", PT: 9, Clock: 8000, Channels: 1},
}

const maxSDP = 64 << 10

// parseSDP reads an offer or answer. It refuses what it cannot bridge
// safely (no audio, bad address) with an error that says what was wrong.
func parseSDP(raw string) (*sdpInfo, error) {
	sd, err := unmarshalSDP(raw)
	if err != nil {
		return nil, err
	}
	return sdpInfoOf(sd)
}

// unmarshalSDP parses an SDP of at most maxSDP bytes.
func unmarshalSDP(raw string) (*sdp.SessionDescription, error) {
	if len(raw) > maxSDP {
		return nil, errors.New("sdp: larger than 64 KiB")
	}
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("sdp: %w", err)
	}
	return sd, nil
}

// sdpInfoOf reads what the bridge needs from a parsed SDP (sd is only
// read: the lean stack reads the browser's offer from the same parse).
func sdpInfoOf(sd *sdp.SessionDescription) (*sdpInfo, error) {
	var sessAddr netip.Addr
	if sd.ConnectionInformation != nil && sd.ConnectionInformation.Address != nil {
		a, err := netip.ParseAddr(sd.ConnectionInformation.Address.Address)
		if err == nil {
			sessAddr = a
		}
	}
	sessDir := direction(sd.Attributes, "sendrecv")
	info := &sdpInfo{}
	for _, md := range sd.MediaDescriptions {
		kind := md.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue
		}
		if (kind == "audio" && info.Audio != nil) || (kind == "video" && info.Video != nil) {
			continue // first section of each kind only
		}
		ms := &mediaSection{Kind: kind, Port: md.MediaName.Port.Value, Addr: sessAddr}
		if md.ConnectionInformation != nil && md.ConnectionInformation.Address != nil {
			a, err := netip.ParseAddr(md.ConnectionInformation.Address.Address)
			if err != nil {
				return nil, fmt.Errorf("sdp: %s connection address %q is not an IP", kind, md.ConnectionInformation.Address.Address)
			}
			ms.Addr = a
		}
		ms.Direction = direction(md.Attributes, sessDir)
		ms.RTCPPort = ms.Port + 1
		byPT := map[uint8]*codec{}
		var order []uint8
		for _, f := range md.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue // not RTP/AVP, or nonsense
			}
			pt := uint8(n)
			c := codec{PT: pt}
			if s, ok := staticPT[pt]; ok {
				c = s
			}
			byPT[pt] = &c
			order = append(order, pt)
		}
		for _, a := range md.Attributes {
			switch a.Key {
			case "rtpmap":
				pt, name, clock, ch, ok := parseRtpmap(a.Value)
				if c := byPT[pt]; ok && c != nil {
					c.Name, c.Clock, c.Channels = name, clock, ch
				}
			case "fmtp":
				sp := strings.IndexByte(a.Value, ' ')
				if sp > 0 {
					if n, err := strconv.Atoi(a.Value[:sp]); err == nil && n >= 0 && n < 128 {
						if c := byPT[uint8(n)]; c != nil {
							c.Fmtp = strings.TrimSpace(a.Value[sp+1:])
						}
					}
				}
			case "rtcp":
				f := strings.Fields(a.Value)
				if len(f) > 0 {
					if p, err := strconv.Atoi(f[0]); err == nil && p > 0 && p < 65536 {
						ms.RTCPPort = p
					}
				}
			case "rtcp-mux":
				ms.RTCPMux = true
			}
		}
		for _, pt := range order {
			if c := byPT[pt]; c.Name != "" {
				ms.Codecs = append(ms.Codecs, *c)
			}
		}
		if kind == "audio" {
			info.Audio = ms
		} else {
			info.Video = ms
		}
	}
	if info.Audio == nil {
		return nil, errors.New("sdp: no audio section")
	}
	return info, nil
}

func parseRtpmap(v string) (pt uint8, name string, clock uint32, channels uint16, ok bool) {
	sp := strings.IndexByte(v, ' ')
	if sp <= 0 {
		return
	}
	n, err := strconv.Atoi(v[:sp])
	if err != nil || n < 0 || n > 127 {
		return
	}
	parts := strings.Split(strings.TrimSpace(v[sp+1:]), "/")
	if len(parts) < 2 {
		return
	}
	c, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || c == 0 {
		return
	}
	channels = 1
	if len(parts) > 2 {
		ch, err := strconv.ParseUint(parts[2], 10, 16)
		if err != nil {
			return
		}
		channels = uint16(ch)
	}
	return uint8(n), strings.ToLower(parts[0]), uint32(c), channels, true
}

func direction(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return def
}

// ownStrings copies the strings info holds out of the parse it came
// from: pion's strings are slices of its copy of the whole description,
// which a call keeping its offer's codecs would hold for a few names.
func (info *sdpInfo) ownStrings() {
	for _, m := range []*mediaSection{info.Audio, info.Video} {
		if m == nil {
			continue
		}
		m.Kind, m.Direction = strings.Clone(m.Kind), strings.Clone(m.Direction)
		for i := range m.Codecs {
			m.Codecs[i].Name, m.Codecs[i].Fmtp = strings.Clone(m.Codecs[i].Name), strings.Clone(m.Codecs[i].Fmtp)
		}
	}
}

// onHold says whether a PBX offer puts us on hold (RFC 3264 section 8.4,
// and the older c=0.0.0.0 form).
func (m *mediaSection) onHold() bool {
	return m.Direction == "sendonly" || m.Direction == "inactive" || (m.Addr.IsValid() && m.Addr.IsUnspecified())
}

// plainSDP writes the PBX-side description: plain RTP/AVP, one audio (and
// optionally one video) section.
type plainSDP struct {
	SessionID uint64
	Version   uint64
	Addr      netip.Addr
	Audio     plainMedia
	Video     *plainMedia
}

type plainMedia struct {
	Port      int
	Codecs    []codec
	Direction string
}

func (p plainSDP) String() string {
	var b strings.Builder
	ipv := "IP4"
	if p.Addr.Is6() {
		ipv = "IP6"
	}
	fmt.Fprintf(&b, "v=0\r\no=edgebox %d %d IN %s %s\r\ns=edgebox\r\nc=IN %s %s\r\nt=0 0\r\n",
		p.SessionID, p.Version, ipv, p.Addr, ipv, p.Addr)
	write := func(kind string, m plainMedia) {
		fmt.Fprintf(&b, "m=%s %d RTP/AVP", kind, m.Port)
		for _, c := range m.Codecs {
			fmt.Fprintf(&b, " %d", c.PT)
		}
		b.WriteString("\r\n")
		for _, c := range m.Codecs {
			fmt.Fprintf(&b, "a=rtpmap:%s\r\n", c.rtpmap())
			if c.Fmtp != "" {
				fmt.Fprintf(&b, "a=fmtp:%d %s\r\n", c.PT, c.Fmtp)
			}
		}
		if kind == "audio" {
			b.WriteString("a=ptime:20\r\n")
		}
		fmt.Fprintf(&b, "a=rtcp:%d\r\n", m.Port+1)
		dir := m.Direction
		if dir == "" {
			dir = "sendrecv"
		}
		fmt.Fprintf(&b, "a=%s\r\n", dir)
	}
	write("audio", p.Audio)
	if p.Video != nil {
		write("video", *p.Video)
	}
	return b.String()
}

func newSessionID() uint64 { return uint64(time.Now().UnixNano()) & (1<<62 - 1) }

// pbxOfferCodecs picks, in the box's order of preference, the browser's
// audio codecs the box may bridge, keeping the browser's payload types so
// no mapping is needed when the PBX answers with them, plus the
// telephone-event types whose clock matches a chosen codec.
func pbxOfferCodecs(browser *mediaSection, prefs []string) []codec {
	var out []codec
	clocks := map[uint32]bool{}
	for _, want := range prefs {
		want = strings.ToLower(want)
		for _, c := range browser.Codecs {
			if c.Name == want {
				out = append(out, c)
				clocks[c.Clock] = true
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	for _, c := range browser.Codecs {
		if c.Name == "telephone-event" && clocks[c.Clock] {
			out = append(out, c)
			clocks[c.Clock] = false // one per clock
		}
	}
	return out
}

// videoCodecs picks VP8 and H.264 from a browser video section.
func videoCodecs(browser *mediaSection) []codec {
	var out []codec
	seen := map[string]bool{}
	for _, c := range browser.Codecs {
		if (c.Name == "vp8" || c.Name == "h264") && !seen[c.Name] {
			out = append(out, c)
			seen[c.Name] = true
		}
	}
	return out
}

// bridgePlan is what both legs agreed on: the one codec the relay carries,
// its payload type on each leg, and telephone-event's.
type bridgePlan struct {
	Browser    codec  // codec as the browser offered it (its PT)
	PBXPT      uint8  // PT of the same codec on the PBX leg
	TE         *codec // telephone-event on the browser leg, if both sides have it
	PBXTEPT    uint8
	Remote     netip.AddrPort // PBX media address
	RemoteRTCP netip.AddrPort
	Hold       bool
}

// planBridge matches the PBX answer against the browser offer.
func planBridge(browser *mediaSection, pbx *mediaSection) (*bridgePlan, error) {
	if pbx.Port == 0 {
		return nil, errors.New("the PBX refused the audio stream (port 0)")
	}
	if !pbx.Addr.IsValid() {
		return nil, errors.New("the PBX answer has no connection address")
	}
	var plan *bridgePlan
	for _, pc := range pbx.Codecs {
		if pc.Name == "telephone-event" {
			continue
		}
		for _, bc := range browser.Codecs {
			if bc.Name == pc.Name && bc.Clock == pc.Clock {
				plan = &bridgePlan{Browser: bc, PBXPT: pc.PT}
				break
			}
		}
		if plan != nil {
			break
		}
	}
	if plan == nil {
		// the box relays and does not transcode: say what each side has,
		// for the PBX admin to allow one of the offered codecs
		return nil, fmt.Errorf("the PBX answered with %s, none of the codecs offered (%s): the box relays audio and does not transcode; allow one of them for the trunk at the PBX", codecNames(pbx.Codecs), codecNames(browser.Codecs))
	}
	for _, pc := range pbx.Codecs {
		if pc.Name != "telephone-event" || pc.Clock != plan.Browser.Clock {
			continue
		}
		for _, bc := range browser.Codecs {
			if bc.Name == "telephone-event" && bc.Clock == pc.Clock {
				te := bc
				plan.TE, plan.PBXTEPT = &te, pc.PT
				break
			}
		}
		break
	}
	plan.Remote = netip.AddrPortFrom(pbx.Addr.Unmap(), uint16(pbx.Port))
	rp := pbx.RTCPPort
	if pbx.RTCPMux {
		rp = pbx.Port
	}
	plan.RemoteRTCP = netip.AddrPortFrom(pbx.Addr.Unmap(), uint16(rp))
	plan.Hold = pbx.onHold()
	return plan, nil
}

// codecNames lists codecs as "pcma/8000, g722/8000", without
// telephone-event; "none" when empty.
func codecNames(cs []codec) string {
	var names []string
	for _, c := range cs {
		if c.Name != "telephone-event" {
			names = append(names, fmt.Sprintf("%s/%d", c.Name, c.Clock))
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// sdpForLog is an SDP as the debug log shows it: the ICE password
// (a=ice-pwd) is the call's secret, and a read token reads the logs
// (seventh review).
func sdpForLog(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, "a=ice-pwd:") {
			b.WriteString("a=ice-pwd:********")
			b.WriteString(line[len(strings.TrimRight(line, "\r\n")):])
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
