package gateway

import "net/netip"

// Symmetric RTP toward the PBX. A PBX behind NAT (or a media server with
// separate send and receive sockets) names one port in its SDP and sends
// from another; the NAT does not let the box's packets in at the port the
// SDP names, so the agent heard nothing while the customer heard the
// agent. As Asterisk's rtp_symmetric and FreeSWITCH do, the box sends to
// the port the PBX's media comes from, while nothing came from the SDP's
// own port. Only the port is learnt: media from another address is
// dropped (anyone could send it) and reported once, so the PBX admin can
// fix the address the PBX puts in its SDP.

// fromRemote says whether a packet from src is the PBX's media, moving
// the leg's sending to src's port when the PBX sends from another port
// (l.mu held).
func (l *pbxLeg) fromRemote(src netip.AddrPort) bool {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	switch {
	case src == l.remote:
		l.heard = true
		return true
	case src.Addr() == l.remote.Addr():
		if src == l.prev {
			// the stream before the last change (the 183's announcement,
			// a re-INVITE's old port): neither learnt nor, once the new
			// one is heard, passed on
			return !l.heard
		}
		if !l.heard && src.Port() != 0 {
			if l.warn != nil {
				l.warn("PBX media comes from another port than its SDP names: the box sends there (symmetric RTP); check the PBX's NAT or RTP settings", "sdp", l.remote.String(), "from", src.String())
			}
			l.remote, l.heard = src, true
			l.send.mu.Lock()
			l.send.remote = src
			l.send.mu.Unlock()
		}
		return true
	}
	if !l.strange && l.warn != nil {
		l.strange = true
		l.warn("PBX media from an address its SDP does not name is dropped: if the PBX is behind NAT, set the address it puts in its SDP (Asterisk external_media_address, FreeSWITCH ext-rtp-ip)", "sdp", l.remote.String(), "from", src.String())
	}
	return false
}

// fromRemoteRTCP is fromRemote for the PBX's RTCP: a report from the
// address the SDP names for RTCP but another port moves the box's reports
// (and keyframe requests) there while none came from that port itself;
// RTCP from another address is dropped and reported once (a keyframe
// request or a report from anyone was taken before). l.mu held.
func (l *pbxLeg) fromRemoteRTCP(src netip.AddrPort) bool {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	switch {
	case !l.rtcpTo.IsValid() || l.rtcpTo.Addr().IsUnspecified():
		return false // no SDP yet, or a hold with c=0.0.0.0: nobody to hear
	case src == l.rtcpTo:
		l.rtcpHeard = true
		return true
	case src.Addr() == l.rtcpTo.Addr():
		if !l.rtcpHeard && src.Port() != 0 {
			if l.warn != nil {
				l.warn("PBX RTCP comes from another port than its SDP names: the box sends its reports there (symmetric RTCP); check the PBX's NAT or RTP settings", "sdp", l.rtcpTo.String(), "from", src.String())
			}
			l.rtcpTo, l.rtcpHeard = src, true
		}
		return true
	}
	if !l.rtcpStrange && l.warn != nil {
		l.rtcpStrange = true
		l.warn("PBX RTCP from an address its SDP does not name is dropped", "sdp", l.rtcpTo.String(), "from", src.String())
	}
	return false
}
