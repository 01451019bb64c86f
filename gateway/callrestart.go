package gateway

import (
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
)

// A client restarts ICE when its network changes, a few times in a call;
// each new offer costs a parse, an answer and an ICE restart. Past a
// burst of reofferBurst, one every reofferEvery is taken (before, a
// holder of one call token could send them as fast as the socket
// carried them, for the call's whole life).
const (
	reofferBurst = 5
	reofferEvery = 10 * time.Second
)

// clientReoffer takes a new offer from the client during the call: an ICE
// restart after the client's network changed (Wi-Fi to mobile, usually on
// a resumed socket, resume.go). The codecs and the bridge stay as they
// are; pion restarts ICE on the new credentials, the box's candidates
// trickle again, and the fast path follows the newly selected pair
// (goFast's OnSelectedCandidatePairChange).
func (c *call) clientReoffer(sdp string) {
	if c.reoffers == nil {
		c.reoffers = rate.NewLimiter(rate.Every(reofferEvery), reofferBurst)
	}
	if !c.reoffers.Allow() {
		c.refuse(CodeState, "too many new offers in this call: the call goes on as it is; try again in a few seconds")
		return
	}
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
