package gateway

import (
	"net/netip"

	"github.com/emiago/sipgo/sip"
)

// reinvite answers a re-INVITE of the PBX in a GSM call's dialog (hold,
// a media move, a session refresh): the codec stays what was agreed, the
// RTP goes where the new offer says, the box answers with its own
// description again. Without it a PBX's refresh got 481 and dropped the
// call.
func (c *gsmVoiceCall) reinvite(r gsmSIPRequest) {
	if body := r.req.Body(); len(body) > 0 {
		info, err := parsePBXSDP(string(body), c.v.cfg.PBX)
		if err != nil {
			r.respond(488, "Not Acceptable Here")
			return
		}
		m := info.Audio
		ok := false
		for _, k := range m.Codecs {
			ok = ok || (k.PT == c.media.law.pt && (k.Name == "" || lawByName(k.Name) == c.media.law))
		}
		if !ok {
			r.respond(488, "Not Acceptable Here")
			return
		}
		if m.Addr.IsValid() && !m.Addr.IsUnspecified() && m.Port != 0 {
			to := netip.AddrPortFrom(m.Addr, uint16(m.Port))
			c.remote.Store(&to)
		}
		// hold (RFC 3264 8.4, or c=0.0.0.0): answered recvonly (inactive
		// to inactive) and nothing sent until the PBX resumes
		c.heldDir = ""
		switch {
		case m.Direction == "inactive":
			c.heldDir = "inactive"
		case m.onHold():
			c.heldDir = "recvonly"
		}
		c.held.Store(c.heldDir != "")
	}
	_, contact, err := c.v.svc.sip.endpoint(c.v.cfg.PBX.Transport)
	if err != nil {
		r.respond(500, "Server Internal Error")
		return
	}
	ch := c.media
	res := sip.NewResponseFromRequest(r.req, 200, "OK", c.sdpFor(&ch))
	res.AppendHeader(&contact)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	if err := r.tx.Respond(res); err != nil {
		c.log.Debug("re-INVITE answer", "err", err)
	}
}
