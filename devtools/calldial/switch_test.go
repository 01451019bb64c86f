package calldial

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// echoPeer is a plain pion answerer on loopback that sends every RTP
// packet it receives back on its own track (pion's defaults otherwise:
// it answers as the DTLS client, interceptors included).
func echoPeer(t *testing.T, cs codecSpec, offer string) string {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(cs.params, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	back, err := webrtc.NewTrackLocalStaticRTP(cs.params.RTPCodecCapability, "audio", "echo")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(back); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			back.WriteRTP(p)
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}

// echoCall is a calldial call to an echoPeer, connected, its media not
// yet paced.
func echoCall(t *testing.T, r *runner) *call {
	t.Helper()
	c := &call{run: r, connected: make(chan struct{})}
	t.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sdp, f := c.offer(ctx)
	if f != "" {
		t.Fatal(f)
	}
	answer := echoPeer(t, r.codec, sdp)
	if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.connected:
	case <-ctx.Done():
		t.Fatal("ICE/DTLS did not connect")
	}
	return c
}

// hold paces the call's media for d, then lets the last echoes come back.
func hold(r *runner, c *call, d time.Duration) mediaResult {
	r.pace.add(c.media)
	time.Sleep(d)
	r.pace.remove(c.media)
	time.Sleep(150 * time.Millisecond)
	return c.media.result()
}

// TestSwitchToSession: the first echo comes through pion, then the call
// moves to its dtlssrtp session with no packet lost across the switch,
// whichever DTLS role the answerer took (pion answers as the client).
func TestSwitchToSession(t *testing.T) {
	cs, _ := codecOf("pcmu")
	r := &runner{codec: cs, pace: newPacer(1), recv: udpbatch.NewPoller(1500, nil)}
	defer r.pace.close()
	c := echoCall(t, r)
	m := hold(r, c, time.Second)
	fast, why := c.fastState()
	if !fast {
		t.Fatalf("call stayed on pion: %s", why)
	}
	if m.Sent < 40 || m.Received != m.Sent || m.FastSent+5 < m.Sent || m.FastReceived+5 < m.Received || m.FastReceived == 0 {
		t.Fatalf("sent %d received %d, fast %d/%d: want all echoed, all but the first few through the session", m.Sent, m.Received, m.FastSent, m.FastReceived)
	}
}

// TestUnknownKeysStayOnPion: when the keys cannot be learnt the call
// keeps pion's path, its media flows, and the cause is reported.
func TestUnknownKeysStayOnPion(t *testing.T) {
	cs, _ := codecOf("pcmu")
	r := &runner{codec: cs, pace: newPacer(1), recv: udpbatch.NewPoller(1500, nil)}
	defer r.pace.close()
	c := echoCall(t, r)
	pair, err := c.sender.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("selected pair %v, %v", pair, err)
	}
	c.net.keys.Forget(netip.AddrPortFrom(netip.MustParseAddr(pair.Remote.Address), pair.Remote.Port))
	m := hold(r, c, time.Second)
	fast, why := c.fastState()
	if fast || why == "" {
		t.Fatalf("fast %v (%q) without keys", fast, why)
	}
	t.Logf("stayed on pion: %s", why)
	if m.Sent < 40 || m.Received != m.Sent || m.FastSent != 0 || m.FastReceived != 0 {
		t.Fatalf("sent %d received %d, fast %d/%d: want all echoed through pion", m.Sent, m.Received, m.FastSent, m.FastReceived)
	}
	// the report counts it apart, not as a failed call
	r.results = []callResult{{Answered: true, Media: m, Fast: fast, FastFailure: why}}
	now := time.Now()
	rep := r.report([]sample{{at: now}, {at: now}}, now, now)
	if f := rep.FastPath; f.Calls != 0 || f.Of != 1 || f.Failures[why] != 1 || rep.Failed != 0 {
		t.Errorf("fast path %+v failed %d: want 0 of 1, the cause counted, no failed call", f, rep.Failed)
	}
	var out strings.Builder
	rep.Print(&out)
	if !strings.Contains(out.String(), "fast path: 0 of 1 calls") || !strings.Contains(out.String(), "stayed on pion: "+why) {
		t.Errorf("report:\n%s", out.String())
	}
}
