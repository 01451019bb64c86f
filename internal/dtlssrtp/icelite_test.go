package dtlssrtp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/ice/v4"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v3"
)

// A full ICE agent (pion/ice, controlling, as a browser is) connects to a
// lean call on the shared port: Lite answers its checks with no agent of
// its own, and learns the nominated address.
func TestLiteAnswersFullAgent(t *testing.T) {
	for _, n := range []int{1, 2, 0} {
		c := listen(t, n)
		drainSlow(c)
		l := &Lite{}
		c.SetLite(l)
		dialLite(t, c, l)
	}
}

// dialLite connects a full ICE agent (controlling, as a browser is) to
// c, whose Lite answers; it returns the agent's connection once Lite saw
// the nominating check from the agent's address.
func dialLite(t *testing.T, c *Conn, l *Lite) (*ice.Conn, *ice.Agent) {
	t.Helper()
	checks := make(chan LiteCheck, 64)
	agent, err := ice.NewAgentWithOptions(
		ice.WithNetworkTypes([]ice.NetworkType{ice.NetworkTypeUDP4}),
		ice.WithIncludeLoopback(),
		ice.WithInterfaceFilter(func(name string) bool { return name == "lo" }),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	ufrag, _, err := agent.GetLocalUserCredentials()
	if err != nil {
		t.Fatal(err)
	}
	l.Add("boxufrag", "boxpassword0123456789abc", ufrag, func(ch LiteCheck) {
		select {
		case checks <- ch:
		default:
		}
	})
	t.Cleanup(func() { l.Remove("boxufrag") })
	if err := agent.OnCandidate(func(ice.Candidate) {}); err != nil {
		t.Fatal(err)
	}
	if err := agent.GatherCandidates(); err != nil {
		t.Fatal(err)
	}
	box := c.LocalAddr().(*net.UDPAddr)
	cand, err := ice.NewCandidateHost(&ice.CandidateHostConfig{Network: "udp", Address: "127.0.0.1", Port: box.Port, Component: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.AddRemoteCandidate(cand); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	conn, err := agent.Dial(ctx, "boxufrag", "boxpassword0123456789abc")
	cancel()
	if err != nil {
		t.Fatalf("the agent did not connect to ICE-lite: %v", err)
	}
	want := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	deadline := time.After(30 * time.Second)
	for nominated := false; !nominated; {
		select {
		case ch := <-checks:
			if ch.From != unmap(want) {
				t.Fatalf("check from %v, the agent is at %v", ch.From, want)
			}
			nominated = ch.Nominated
		case <-deadline:
			t.Fatal("no nominating check")
		}
	}
	return conn, agent
}

// Checks Lite must not answer: another call's ufrag (pion's), a wrong
// password, the wrong remote ufrag.
func TestLiteRefuses(t *testing.T) {
	c := listen(t, 1)
	l := &Lite{}
	c.SetLite(l)
	l.Add("box", "boxpassword0123456789abc", "browser", func(LiteCheck) { t.Error("a refused check was reported") })
	from := netip.MustParseAddrPort("127.0.0.1:9")
	for _, tc := range []struct {
		name, user, pwd string
		claimed         bool
	}{
		{"unknown ufrag", "other:browser", "boxpassword0123456789abc", false},
		{"wrong password", "box:browser", "wrongpassword0123456789a", true},
		{"wrong remote ufrag", "box:mallory", "boxpassword0123456789abc", true},
	} {
		m, err := stun.Build(stun.BindingRequest, stun.TransactionID, stun.NewUsername(tc.user),
			stun.NewShortTermIntegrity(tc.pwd), stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		before := c.Rejected.Load()
		if got := c.claim(m.Raw, from, nil); got != tc.claimed {
			t.Errorf("%s: claimed %v, want %v", tc.name, got, tc.claimed)
		}
		if tc.claimed && c.Rejected.Load() != before+1 {
			t.Errorf("%s: not counted as rejected", tc.name)
		}
	}
}

// FuzzDemux feeds the shared port's demultiplexer (RFC 7983: STUN, DTLS,
// SRTP by the first byte) with a lean call's ICE credentials and an SRTP
// session registered for the sender: nothing may panic, a packet that is
// neither STUN nor SRTP of the session is never claimed, and RTP handed to
// the session's handler always passed authentication.
func FuzzDemux(f *testing.F) {
	check, _ := stun.Build(stun.BindingRequest, stun.TransactionID, stun.NewUsername("box:browser"),
		useCandidate{}, stun.NewShortTermIntegrity("boxpassword0123456789abc"), stun.Fingerprint)
	f.Add(check.Raw)
	f.Add([]byte{22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(rtpPacket(0x1234, 7, []byte("audio")))
	f.Add([]byte{0x80, 200, 0, 1, 0, 0, 0x12, 0x34})
	f.Add([]byte{0})
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		f.Fatal(err)
	}
	c := NewConn(u, NewKeyring())
	f.Cleanup(func() { c.Close() })
	l := &Lite{}
	c.SetLite(l)
	l.Add("box", "boxpassword0123456789abc", "browser", func(LiteCheck) {})
	peer := netip.MustParseAddrPort("127.0.0.1:9") // discard: answers go nowhere
	keys := Keys{Profile: srtp.ProtectionProfileAeadAes128Gcm, LocalKey: make([]byte, 16), LocalSalt: make([]byte, 12),
		RemoteKey: make([]byte, 16), RemoteSalt: make([]byte, 12)}
	s, err := c.NewSession(peer, keys)
	if err != nil {
		f.Fatal(err)
	}
	// SRTP the session authenticates (the sender's keys are the same
	// zeros), so that the fuzzer starts from packets its handler gets
	sender, err := srtp.CreateContext(keys.RemoteKey, keys.RemoteSalt, keys.Profile)
	if err != nil {
		f.Fatal(err)
	}
	for seq := uint16(1); seq <= 3; seq++ {
		enc, err := sender.EncryptRTP(nil, rtpPacket(0x1234, seq, []byte("audio")), nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	// the handler relays what it gets as the gateway's does: queued in
	// the reader's batch, sent from a socket of its own
	relay, err := udpbatch.Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { relay.Close() })
	out := udpbatch.NewMulti(4, 1500)
	f.Cleanup(out.Close)
	s.ReceiveBatched(0x1234, func(pkt []byte, out *udpbatch.Multi, _ time.Time) {
		if len(pkt) < 12 || pkt[0]>>6 != 2 {
			panic("the session's handler got a packet that is not RTP")
		}
		out.Add(relay, pkt, peer)
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		claimed := c.claim(append([]byte(nil), b...), peer, out)
		out.Flush()
		if claimed && !(b[0] <= 3 || (b[0] >= 128 && b[0] <= 191)) {
			t.Fatalf("claimed a packet starting with %d (DTLS or other: pion's)", b[0])
		}
	})
}

// useCandidate is ICE's USE-CANDIDATE attribute (empty).
type useCandidate struct{}

func (useCandidate) AddTo(m *stun.Message) error {
	m.Add(stun.AttrUseCandidate, nil)
	return nil
}
