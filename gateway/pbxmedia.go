package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"edgebox/internal/config"
)

// The PBX's SDP says where the box sends RTP and RTCP. A PBX that passes
// SDP through (direct media, a proxy without a media relay) lets whoever
// is at the far end pick that address, and the payload is the caller's
// audio, which a crafted WebRTC client chooses byte for byte. Without a
// check the box is then a UDP relay, the class the TURN guard closed
// (turnguard.go): to 127.0.0.1's services, to link-local hosts, to
// multicast and broadcast on the LAN. So the PBX's media address may not
// be loopback or one of the box's own addresses unless the PBX itself is
// there (a PBX on loopback, as in tests), and never link-local, multicast,
// broadcast or the unspecified address except as a hold (c=0.0.0.0, where
// nothing is sent). LAN and VPN hosts stay allowed: desk phones with
// direct media and media servers live there.

// parsePBXSDP parses an SDP that came from the PBX and refuses media addresses
// the box must not send to.
func parsePBXSDP(raw string, pbx config.GatewayPBX) (*sdpInfo, error) {
	info, err := parseSDP(raw)
	if err != nil {
		return nil, err
	}
	for _, m := range []*mediaSection{info.Audio, info.Video} {
		if m == nil || m.Port == 0 || !m.Addr.IsValid() {
			continue
		}
		if why := pbxMediaRefused(m.Addr, pbx, recentOwnPrefixes()); why != "" {
			return nil, fmt.Errorf("sdp: %s connection address %s refused: %s", m.Kind, m.Addr, why)
		}
	}
	return info, nil
}

// pbxMediaRefused says why the box must not send the PBX's media to a, or
// "" when it may. own is the box's addresses and subnets
// (interfacePrefixes; parsePBXSDP passes recentOwnPrefixes).
func pbxMediaRefused(a netip.Addr, pbx config.GatewayPBX, own []netip.Prefix) string {
	switch k := classifyPeer(a, own); k {
	case peerNoAddress:
		return "" // hold (RFC 2543): nothing is sent
	case peerLinkLocal, peerBroadcast:
		return k.why()
	case peerSelf:
		if !pbxOnTheBox(pbx, own) {
			return "the box itself (loopback or its own address): the PBX is elsewhere"
		}
	}
	return "" // LAN, VPN and the rest: desk phones and media servers
}

// pbxOnTheBox says whether the configured PBX address is loopback or one
// of the box's own: then its media may be there too.
func pbxOnTheBox(pbx config.GatewayPBX, own []netip.Prefix) bool {
	host, _, err := net.SplitHostPort(pbx.HostPort())
	if err != nil {
		host = pbx.HostPort()
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	candidates := []string{host}
	candidates = append(candidates, pbx.AllowedSources...)
	for _, c := range candidates {
		p, err := config.ParsePrefixOrIP(c)
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLoopback() {
			return true
		}
		for _, o := range own {
			if o.IsSingleIP() && o.Addr() == ip {
				return true
			}
		}
	}
	return false
}
