package gateway

import (
	"crypto"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	_ "crypto/sha1" // fingerprint hashes a browser may name (RFC 8122)
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/pion/sdp/v3"
)

// A lean call's SDP with the browser, read and written with pion/sdp:
// the box answers (and, for a codec change, offers) one bundled audio
// stream over the shared port, as an ICE-lite DTLS server, and refuses
// every other m= section (port 0).

// leanOffer is what a lean call takes from the browser's offer.
type leanOffer struct {
	sd          *sdp.SessionDescription
	audio       int    // index of the audio m= section carried
	mid         string // its mid
	ufrag, pwd  string // the browser's ICE credentials
	fpHash      crypto.Hash
	fingerprint []byte // of the browser's DTLS certificate
}

// parseLeanOffer reads the browser's offer; an error says why a lean
// call cannot take it.
func parseLeanOffer(raw string) (*leanOffer, error) {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(raw); err != nil {
		return nil, fmt.Errorf("offer: %w", err)
	}
	return leanOfferOf(sd)
}

// leanOfferOf reads a parsed offer (parseLeanOffer's, or takeOffer's);
// sd is kept in the leanOffer for the answer.
func leanOfferOf(sd *sdp.SessionDescription) (*leanOffer, error) {
	o := &leanOffer{sd: sd, audio: -1}
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			o.audio = i
			break
		}
	}
	if o.audio < 0 {
		return nil, errors.New("offer has no audio stream")
	}
	md := sd.MediaDescriptions[o.audio]
	o.mid, _ = md.Attribute(sdp.AttrKeyMID)
	// media-level attributes win over session-level ones (RFC 8839)
	attr := func(key string) string {
		if v, ok := md.Attribute(key); ok {
			return v
		}
		v, _ := sd.Attribute(key)
		return v
	}
	o.ufrag, o.pwd = attr("ice-ufrag"), attr("ice-pwd")
	// copies: pion's strings are slices of its copy of the whole offer,
	// which the call would keep for three short strings
	o.mid, o.ufrag, o.pwd = strings.Clone(o.mid), strings.Clone(o.ufrag), strings.Clone(o.pwd)
	if o.ufrag == "" || o.pwd == "" {
		return nil, errors.New("offer has no ICE credentials (ice-ufrag, ice-pwd)")
	}
	if setup := attr(sdp.AttrKeyConnectionSetup); setup == "passive" {
		return nil, errors.New("offer insists on being the DTLS server (setup:passive)")
	}
	fp := attr("fingerprint")
	alg, value, ok := strings.Cut(fp, " ")
	if !ok {
		return nil, errors.New("offer has no DTLS fingerprint")
	}
	h, ok := fingerprintHashes[strings.ToLower(alg)]
	if !ok {
		return nil, fmt.Errorf("offer's fingerprint uses %q, not one of sha-1, sha-256, sha-384, sha-512", alg)
	}
	b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(value), ":", ""))
	if err != nil || len(b) != h.Size() {
		return nil, errors.New("offer's DTLS fingerprint is malformed")
	}
	o.fpHash, o.fingerprint = h, b
	return o, nil
}

var fingerprintHashes = map[string]crypto.Hash{
	"sha-1": crypto.SHA1, "sha-256": crypto.SHA256, "sha-384": crypto.SHA384, "sha-512": crypto.SHA512,
}

// certMatches checks the browser's DTLS certificate against the offer.
func (o *leanOffer) certMatches(raw []byte) bool {
	h := o.fpHash.New()
	h.Write(raw)
	return subtle.ConstantTimeCompare(h.Sum(nil), o.fingerprint) == 1
}

// leanDesc is what the box says of its side of a lean call.
type leanDesc struct {
	sessID, version uint64
	ufrag, pwd      string
	fingerprint     string // "sha-256 AB:..."
	cand            netip.AddrPort
	ssrc            uint32 // the box's audio toward the browser
	plan            *bridgePlan
	direction       string // of the box's audio m= section
}

// leanSDP writes the box's answer to o, or a new offer in the same
// session (a codec change): the same lines either way, as the box stays
// the DTLS server (setup:passive) and keeps its ICE credentials. Every
// m= section but the audio one is refused with port 0.
func leanSDP(o *leanOffer, d leanDesc) (string, error) {
	addrType := "IP4"
	if d.cand.Addr().Is6() {
		addrType = "IP6"
	}
	out := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "-", SessionID: d.sessID, SessionVersion: d.version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: d.cand.Addr().String()},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	out.WithPropertyAttribute(sdp.AttrKeyICELite)
	if o.mid != "" {
		out.WithValueAttribute(sdp.AttrKeyGroup, "BUNDLE "+o.mid)
	}
	for i, omd := range o.sd.MediaDescriptions {
		mid, _ := omd.Attribute(sdp.AttrKeyMID)
		if i != o.audio {
			md := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: omd.MediaName.Media,
				Port: sdp.RangedPort{Value: 0}, Protos: omd.MediaName.Protos, Formats: omd.MediaName.Formats}}
			if mid != "" {
				md.WithValueAttribute(sdp.AttrKeyMID, mid)
			}
			// the offer's codec names: pion (as a browser's stack) looks
			// the formats of a refused section up too
			for _, a := range omd.Attributes {
				if a.Key == "rtpmap" {
					md.WithValueAttribute(a.Key, a.Value)
				}
			}
			out.WithMedia(md)
			continue
		}
		formats := []string{strconv.Itoa(int(d.plan.Browser.PT))}
		if d.plan.TE != nil {
			formats = append(formats, strconv.Itoa(int(d.plan.TE.PT)))
		}
		md := &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(d.cand.Port())},
				Protos: omd.MediaName.Protos, Formats: formats},
			ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType,
				Address: &sdp.Address{Address: d.cand.Addr().String()}},
		}
		if mid != "" {
			md.WithValueAttribute(sdp.AttrKeyMID, mid)
		}
		md.WithICECredentials(d.ufrag, d.pwd).
			WithValueAttribute("fingerprint", d.fingerprint).
			WithValueAttribute(sdp.AttrKeyConnectionSetup, "passive").
			WithPropertyAttribute(sdp.AttrKeyRTCPMux).
			WithPropertyAttribute(d.direction)
		for _, c := range []*codec{&d.plan.Browser, d.plan.TE} {
			if c == nil {
				continue
			}
			md.WithValueAttribute("rtpmap", c.rtpmap())
			if c.Fmtp != "" {
				md.WithValueAttribute("fmtp", fmt.Sprintf("%d %s", c.PT, c.Fmtp))
			}
		}
		if d.direction == sdp.AttrKeySendRecv || d.direction == sdp.AttrKeySendOnly {
			md.WithValueAttribute(sdp.AttrKeyMsid, "edgebox audio").
				WithValueAttribute(sdp.AttrKeySSRC, fmt.Sprintf("%d cname:edgebox", d.ssrc))
		}
		// the shared port: one host candidate, the address browsers reach
		md.WithValueAttribute(sdp.AttrKeyCandidate, fmt.Sprintf("1 1 udp 2130706431 %s %d typ host",
			d.cand.Addr(), d.cand.Port())).
			WithPropertyAttribute(sdp.AttrKeyEndOfCandidates)
		out.WithMedia(md)
	}
	b, err := out.Marshal()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// answerDirection is the box's direction for an offered one.
func answerDirection(offered string) string {
	switch offered {
	case sdp.AttrKeySendOnly:
		return sdp.AttrKeyRecvOnly
	case sdp.AttrKeyRecvOnly:
		return sdp.AttrKeySendOnly
	case sdp.AttrKeyInactive:
		return sdp.AttrKeyInactive
	}
	return sdp.AttrKeySendRecv
}

// mediaDirection is the direction attribute of md (sendrecv if none).
func mediaDirection(md *sdp.MediaDescription) string {
	for _, k := range []string{sdp.AttrKeySendOnly, sdp.AttrKeyRecvOnly, sdp.AttrKeyInactive} {
		if _, ok := md.Attribute(k); ok {
			return k
		}
	}
	return sdp.AttrKeySendRecv
}

// checkLeanAnswer reads the browser's answer to the box's re-offer: the
// audio must stay up with pt, on the same ICE session and DTLS roles.
func checkLeanAnswer(raw string, o *leanOffer, pt uint8) error {
	sd := &sdp.SessionDescription{}
	if err := sd.UnmarshalString(raw); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if len(sd.MediaDescriptions) <= o.audio {
		return errors.New("answer lacks the audio stream")
	}
	md := sd.MediaDescriptions[o.audio]
	if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
		return errors.New("answer refuses the audio stream")
	}
	attr := func(key string) string {
		if v, ok := md.Attribute(key); ok {
			return v
		}
		v, _ := sd.Attribute(key)
		return v
	}
	if u := attr("ice-ufrag"); u != "" && u != o.ufrag {
		return errors.New("answer restarts ICE: a lean call keeps its ICE session")
	}
	if s := attr(sdp.AttrKeyConnectionSetup); s != "" && s != "active" {
		return fmt.Errorf("answer asks for DTLS setup:%s: a lean call keeps the browser as DTLS client", s)
	}
	for _, f := range md.MediaName.Formats {
		if f == strconv.Itoa(int(pt)) {
			return nil
		}
	}
	return fmt.Errorf("answer does not take payload type %d", pt)
}
