package gateway

import "github.com/pion/webrtc/v4"

// clientReoffer takes a new offer from the client during the call: an ICE
// restart after the client's network changed (Wi-Fi to mobile, usually on
// a resumed socket, resume.go). The codecs and the bridge stay as they
// are; pion restarts ICE on the new credentials, the box's candidates
// trickle again, and the fast path follows the newly selected pair
// (goFast's OnSelectedCandidatePairChange).
func (c *call) clientReoffer(sdp string) {
	if c.leanReoffer(sdp) { // the lean stack answers it itself (leancall.go)
		return
	}
	if c.pc == nil {
		// before the box's answer
		c.refuse(CodeState, "a new offer from the client is taken only during the call, once the box answered")
		return
	}
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: c.iceSafeSDP(sdp)}); err != nil {
		c.refuse(CodeBadSDP, "new offer: "+err.Error())
		return
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(answer)
	}
	if err != nil {
		c.refuse(CodeInternal, "answer to the new offer: "+err.Error())
		return
	}
	c.sig.send(Message{Type: MsgAnswer, SDP: c.pc.LocalDescription().SDP})
	c.log.Info("the client renegotiated (ICE restart)")
}
