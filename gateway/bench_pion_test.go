package gateway

import (
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The pion side of the browser leg, measured with the box's settings
// (boxInterceptors). The far end of each pair has no interceptors so its
// own allocations stay out of the numbers as far as possible; the relay's
// own code is measured alone by BenchmarkRelayToPBX.

// BenchmarkBrowserLegWrite: PBX -> browser, TrackLocalStaticRTP.Write
// (parse, report interceptor, SRTP protect, send).
func BenchmarkBrowserLegWrite(b *testing.B) {
	box, far, track, remote := pionPair(b, boxInterceptors(), &interceptor.Registry{})
	defer box.Close()
	defer far.Close()
	go func() {
		t := <-remote
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
		}
	}()
	raw := testRTP()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw[2], raw[3] = byte(i>>8), byte(i)
		if _, err := track.Write(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBrowserLegRead: browser -> PBX, SRTP unprotect, the box's
// interceptors and TrackRemote.Read.
func BenchmarkBrowserLegRead(b *testing.B) {
	far, box, track, remote := pionPair(b, &interceptor.Registry{}, boxInterceptors())
	defer box.Close()
	defer far.Close()
	got := make(chan struct{}, 1024)
	go func() {
		t := <-remote
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
			got <- struct{}{}
		}
	}()
	raw := testRTP()
	lost := time.NewTimer(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw[2], raw[3] = byte(i>>8), byte(i)
		if _, err := track.Write(raw); err != nil {
			b.Fatal(err)
		}
		lost.Reset(time.Second)
		select {
		case <-got:
		case <-lost.C:
			b.Fatal("packet lost on loopback")
		}
	}
}

func testRTP() []byte {
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}, Payload: make([]byte, 160)}
	raw, _ := pkt.Marshal()
	return raw
}

// pionPair connects a sending peer to a receiving one on loopback and
// returns them, the sender's track and (once it arrives) the receiver's
// remote track.
func pionPair(b *testing.B, sendIR, recvIR *interceptor.Registry) (*webrtc.PeerConnection, *webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, chan *webrtc.TrackRemote) {
	mk := func(ir *interceptor.Registry) *webrtc.PeerConnection {
		me := &webrtc.MediaEngine{}
		me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}, webrtc.RTPCodecTypeAudio)
		se := webrtc.SettingEngine{}
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		return pc
	}
	send, recv := mk(sendIR), mk(recvIR)
	track, _ := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, "audio", "edgebox")
	if _, err := send.AddTrack(track); err != nil {
		b.Fatal(err)
	}
	recv.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	remote := make(chan *webrtc.TrackRemote, 1)
	recv.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { remote <- t })
	connected := make(chan struct{})
	send.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offer, _ := recv.CreateOffer(nil)
	gather := webrtc.GatheringCompletePromise(recv)
	recv.SetLocalDescription(offer)
	<-gather
	send.SetRemoteDescription(*recv.LocalDescription())
	answer, _ := send.CreateAnswer(nil)
	gather = webrtc.GatheringCompletePromise(send)
	send.SetLocalDescription(answer)
	<-gather
	recv.SetRemoteDescription(*send.LocalDescription())
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		b.Fatal("peers did not connect")
	}
	return send, recv, track, remote
}
