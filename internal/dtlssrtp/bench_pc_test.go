package dtlssrtp

import (
	"runtime"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// BenchmarkPeerConnectionSetup is BenchmarkLeanAccept's comparison in the
// same run: a call's browser leg as the gateway's PeerConnection path
// brings it up (pion ICE + DTLS, both ends PeerConnections on loopback),
// kept open; figures count both ends.
func BenchmarkPeerConnectionSetup(b *testing.B) {
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		b.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
	b.ReportAllocs()
	before := runtime.NumGoroutine()
	heap := liveHeap()
	for b.Loop() {
		offerer, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		answerer, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { offerer.Close(); answerer.Close() })
		connected := make(chan struct{}, 2)
		for _, pc := range []*webrtc.PeerConnection{offerer, answerer} {
			pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
				if s == webrtc.PeerConnectionStateConnected {
					connected <- struct{}{}
				}
			})
		}
		if _, err := offerer.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
			b.Fatal(err)
		}
		offer, _ := offerer.CreateOffer(nil)
		done := webrtc.GatheringCompletePromise(offerer)
		offerer.SetLocalDescription(offer)
		<-done
		if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
			b.Fatal(err)
		}
		answer, _ := answerer.CreateAnswer(nil)
		done = webrtc.GatheringCompletePromise(answerer)
		answerer.SetLocalDescription(answer)
		<-done
		if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
			b.Fatal(err)
		}
		ctx := ctxT(b)
		for range 2 {
			select {
			case <-connected:
			case <-ctx.Done():
				b.Fatal("peer connections did not connect")
			}
		}
	}
	b.ReportMetric(float64(runtime.NumGoroutine()-before)/float64(b.N), "goroutines/call(both-ends)")
	b.ReportMetric(float64(liveHeap()-heap)/float64(b.N), "live-B/call(both-ends)")
}
