package gateway

import (
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// videoBridge is the optional video stream of a call: VP8 or H.264 passed
// through between the browser and a PBX that offers video.
type videoBridge struct {
	leg        *pbxLeg
	plan       *bridgePlan
	track      *relayTrack
	sender     *webrtc.RTPSender
	browserIn  streamStats
	browserOut streamStats
	// browserSSRC is the browser's video SSRC, for keyframe requests
	browserSSRC atomic.Uint32
	trackPtr    atomic.Pointer[relayTrack]
}

// askBrowserForKeyframe passes a PBX keyframe request to the browser.
func (v *videoBridge) askBrowserForKeyframe(pc *webrtc.PeerConnection) {
	if ssrc := v.browserSSRC.Load(); ssrc != 0 {
		pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
}

// forwardKeyframeRequests reads the browser's RTCP for the video the box
// sends it and passes picture loss indications on to the PBX: RTCP is
// terminated per leg, but only the PBX's encoder can make a keyframe.
func (v *videoBridge) forwardKeyframeRequests(sender *webrtc.RTPSender, stop <-chan struct{}) {
	buf := make([]byte, 1500)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				v.leg.sendPLI()
			}
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}
