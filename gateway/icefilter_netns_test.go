package gateway_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/stun/v3"
	"github.com/pion/webrtc/v4"
)

// The ICE candidate filter with real networks: the box (pion, full ICE:
// no public address) has an uplink toward "inet", where callers live
// (one at 203.0.113.5, behind a router), and a LAN with a host at
// 192.168.79.77. A crafted internet caller names UDP services on the
// box's own addresses (loopback, uplink, LAN), on the LAN host and the
// LAN's broadcast; a LAN caller names its own host. Nothing reaches any
// of them, while an internet caller with a real candidate connects. With
// gateway.media.lan_candidates on, the LAN caller's own host candidate is
// checked (its service sees the box's STUN) and the internet caller's LAN
// candidate still is not.
func TestSecICECandidatesNetns(t *testing.T) {
	t.Parallel()
	rig := newNetnsRig(t, "icecand")
	box, inet, lan := rig.ns("box"), rig.ns("inet"), rig.ns("lan")
	rig.link(box, "wan0", "10.79.21.2/24", inet, "wan", "10.79.21.1/24")
	rig.link(box, "lan0", "192.168.79.1/24", lan, "lan", "192.168.79.77/24")
	rig.ip("-n", inet, "addr", "add", "203.0.113.5/32", "dev", "lo")
	rig.ip("-n", box, "route", "add", "default", "via", "10.79.21.1")
	rig.ip("-n", lan, "route", "add", "default", "via", "192.168.79.1")
	cmd := exec.Command("ip", "netns", "exec", box, os.Args[0], "-test.run", "^TestHelperICECandidatesNetns$", "-test.v")
	cmd.Env = append(os.Environ(), "EDGEBOX_ICECAND_NS="+inet+","+lan)
	out, err := runBounded(cmd, 150*time.Second)
	if err != nil || !strings.Contains(out, "--- PASS: TestHelperICECandidatesNetns") {
		t.Fatalf("the calls in the box's namespace: %v\n%s", err, out)
	}
}

// stunCounter counts the STUN messages arriving at a UDP socket.
type stunCounter struct {
	conn net.PacketConn
	n    atomic.Int64
}

func countSTUN(t *testing.T, ns, addr string) *stunCounter {
	t.Helper()
	s := &stunCounter{}
	listen := func() (err error) { s.conn, err = net.ListenPacket("udp4", addr); return err }
	var err error
	if ns == "" {
		err = listen()
	} else {
		err = testenv.DoIn(ns, listen)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.conn.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := s.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if stun.IsMessage(buf[:n]) {
				s.n.Add(1)
			}
		}
	}()
	return s
}

func (s *stunCounter) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

// TestHelperICECandidatesNetns is the process TestSecICECandidatesNetns
// starts in the box's namespace.
func TestHelperICECandidatesNetns(t *testing.T) {
	nets := strings.Split(os.Getenv("EDGEBOX_ICECAND_NS"), ",")
	if len(nets) != 2 {
		t.Skip("helper process of TestSecICECandidatesNetns")
	}
	inet, lan := nets[0], nets[1]
	boxSvc := countSTUN(t, "", "0.0.0.0:0")     // a service on every address of the box
	lanHost := countSTUN(t, lan, "0.0.0.0:0")   // a service of a LAN host (broadcasts too)
	lanCaller := countSTUN(t, lan, "0.0.0.0:0") // the LAN caller's own ICE port
	cand := func(i int, ip string, port int) string {
		return fmt.Sprintf("candidate:%d 1 udp 2122260223 %s %d typ host", i, ip, port)
	}
	evilCands := []string{
		cand(1, "127.0.0.1", boxSvc.port()), cand(2, "10.79.21.2", boxSvc.port()), cand(3, "192.168.79.1", boxSvc.port()),
		cand(4, "192.168.79.77", lanHost.port()), cand(5, "192.168.79.255", lanHost.port()),
	}
	lanCands := []string{cand(1, "192.168.79.77", lanCaller.port())}

	for _, lanOK := range []bool{false, true} {
		t.Run(fmt.Sprintf("lan_candidates=%v", lanOK), func(t *testing.T) {
			uas := startSIPp(t, "uas_echo", 3)
			cfg := testConfig(t, uas.addr())
			cfg.Media.PublicAddress, cfg.Media.ICEAddress = "", "" // full ICE on every address
			cfg.Media.Stack = config.StackPion
			cfg.Media.LANCandidates = lanOK
			_, port, _ := net.SplitHostPort(cfg.Portal.Listen)
			cfg.Portal.Listen = "0.0.0.0:" + port
			cfg.Portal.PlainHTTP = false // its own self-signed certificate, as on a box
			svc := startGateway(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			evil := rawCall(t, ctx, svc, inet, "10.79.21.2:"+port, nil)
			evil.send(ctx, gateway.Message{Type: gateway.MsgCandidate, Candidate: &gateway.Candidate{Candidate: evilCands[0]}})
			evil.send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: craftedOfferWith(t, evilCands[1:])})
			lanc := rawCall(t, ctx, svc, lan, "192.168.79.1:"+port, nil)
			lanc.send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: craftedOfferWith(t, lanCands)})
			for _, c := range []*rawCaller{evil, lanc} {
				waitFor(t, 20*time.Second, "the crafted call answered", func() bool {
					for _, ci := range svc.Snapshot() {
						if ci.ID == c.id && ci.State == gateway.StateAnswered {
							return true
						}
					}
					return false
				})
			}
			if !lanOK {
				internetCallConnects(t, ctx, svc, inet, "10.79.21.2:"+port)
			}
			// pion checks a new candidate at once and repeats every 200 ms
			time.Sleep(3 * time.Second)
			if n := boxSvc.n.Load(); n > 0 {
				t.Errorf("the box sent %d STUN messages to its own service", n)
			}
			if n := lanHost.n.Load(); n > 0 {
				t.Errorf("the box sent %d STUN messages to the LAN host an internet caller named", n)
			}
			if n := lanCaller.n.Load(); lanOK != (n > 0) {
				t.Errorf("the box sent %d STUN messages to the LAN caller's own host candidate with lan_candidates %v", n, lanOK)
			}
		})
	}
}

// rawCaller is a signaling connection from a namespace, for crafted calls.
type rawCaller struct {
	ws *websocket.Conn
	id string
}

// rawCall authorises a call and opens its signaling socket from namespace
// ns to the portal at hostPort; the box's messages go to on (nil: read
// and dropped, which keeps the socket flowing).
func rawCall(t *testing.T, ctx context.Context, svc *gateway.Service, ns, hostPort string, on func(gateway.Message)) *rawCaller {
	t.Helper()
	insecure := &tls.Config{InsecureSkipVerify: true}
	res, err := client.Authorize(ctx, &http.Client{Transport: &http.Transport{TLSClientConfig: insecure}}, "https://"+svc.PortalAddr(), testAPIKey,
		gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	tok := res.Token
	u, err := url.Parse(res.WebSocketURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = hostPort
	hc := &http.Client{Transport: &http.Transport{DialContext: testenv.DialIn(ns), TLSClientConfig: insecure}}
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("signaling from %s: %v", ns, err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	r := &rawCaller{ws: ws}
	r.send(ctx, gateway.Message{Type: gateway.MsgAuth, Token: tok})
	m := r.read(ctx)
	if m.Type != gateway.MsgAuthorized {
		t.Fatalf("auth from %s: %+v", ns, m)
	}
	r.id = m.CallID
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var m gateway.Message
			if json.Unmarshal(b, &m) == nil && on != nil {
				on(m)
			}
		}
	}()
	return r
}

func (r *rawCaller) send(ctx context.Context, m gateway.Message) {
	b, _ := json.Marshal(m)
	r.ws.Write(ctx, websocket.MessageText, b)
}

func (r *rawCaller) read(ctx context.Context) gateway.Message {
	var m gateway.Message
	_, b, err := r.ws.Read(ctx)
	if err == nil {
		json.Unmarshal(b, &m)
	}
	return m
}

// internetCallConnects places a call from 203.0.113.5 in namespace ns
// (pion, its one host candidate on that address) and waits for ICE to
// connect.
func internetCallConnects(t *testing.T, ctx context.Context, svc *gateway.Service, ns, hostPort string) {
	t.Helper()
	var udp *net.UDPConn
	if err := testenv.DoIn(ns, func() (err error) {
		udp, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(203, 0, 113, 5)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: udp})
	defer mux.Close()
	se := webrtc.SettingEngine{}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICEUDPMux(mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err == nil {
		err = pc.SetLocalDescription(offer)
	}
	if err != nil {
		t.Fatal(err)
	}
	<-webrtc.GatheringCompletePromise(pc)
	if !strings.Contains(pc.LocalDescription().SDP, "203.0.113.5") {
		t.Fatalf("the caller's offer lacks its real candidate:\n%s", pc.LocalDescription().SDP)
	}
	r := rawCall(t, ctx, svc, ns, hostPort, func(m gateway.Message) {
		switch {
		case m.Type == gateway.MsgAnswer:
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
				t.Errorf("the box's answer: %v", err)
			}
		case m.Type == gateway.MsgError:
			t.Errorf("the box refused the internet caller: %+v", m)
		case m.Type == gateway.MsgCandidate && m.Candidate != nil && m.Candidate.Candidate != "":
			pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
		}
	})
	r.send(ctx, gateway.Message{Type: gateway.MsgOffer, SDP: pc.LocalDescription().SDP})
	testenv.WaitFor(t, 20*time.Second, "the internet caller's ICE connected", func() (bool, error) {
		st := pc.ICEConnectionState()
		return st == webrtc.ICEConnectionStateConnected || st == webrtc.ICEConnectionStateCompleted, fmt.Errorf("ICE %s", st)
	})
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err == nil && pair != nil {
		t.Logf("internet caller connected on %s", pair)
	}
}

// craftedOfferWith is a valid audio offer (pion's) whose only candidates
// are cands.
func craftedOfferWith(t *testing.T, cands []string) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	sdp := offer.SDP
	if !strings.HasSuffix(sdp, "\r\n") {
		sdp += "\r\n"
	}
	for _, c := range cands {
		sdp += "a=" + c + "\r\n"
	}
	return sdp
}
