package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/pion/turn/v4"
)

// udpSink is a UDP listener in some namespace that counts what reaches it.
type udpSink struct {
	name string
	addr *net.UDPAddr
	got  chan string
}

func newUDPSink(t *testing.T, ns, name, addr string) *udpSink {
	t.Helper()
	var pc net.PacketConn
	if err := testenv.DoIn(ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatalf("%s listener: %v", name, err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &udpSink{name: name, addr: pc.LocalAddr().(*net.UDPAddr), got: make(chan string, 64)}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case s.got <- fmt.Sprintf("%q from %s", buf[:n], from):
			default:
			}
		}
	}()
	return s
}

// turnAllocation is a TURN client with a relay, made in namespace ns.
func turnAllocation(t *testing.T, ns, server, user, pass string) net.PacketConn {
	t.Helper()
	var conn net.PacketConn
	if err := testenv.DoIn(ns, func() (err error) { conn, err = net.ListenPacket("udp4", ":0"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: server, STUNServerAddr: server, Username: user, Password: pass,
		Realm: "edgebox", Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocation with valid credentials: %v", err)
	}
	t.Cleanup(func() { relay.Close() })
	return relay
}

// turnRig is the box (gateway with TURN on its uplink 203.0.113.1) in a
// namespace with a LAN, a VPN and the internet (a host at 192.0.2.77 the
// admin opened in gateway.turn.allowed_peers, one at 192.0.2.99 not).
type turnRig struct {
	box, inet, lan, vpn string
	cfg                 config.Gateway
}

func newTURNRig(t *testing.T) turnRig {
	rig := newNetnsRig(t, "turn")
	r := turnRig{box: rig.ns("box"), inet: rig.ns("inet"), lan: rig.ns("lan"), vpn: rig.ns("vpn")}
	rig.link(r.box, "wan", "203.0.113.1/24", r.inet, "eth0", "203.0.113.2/24")
	rig.link(r.box, "lan0", "10.77.1.1/24", r.lan, "eth0", "10.77.1.2/24")
	// the VPN in a public-looking range: refused for being the box's
	// network, not for being private
	rig.link(r.box, "vpn0", "198.51.100.1/24", r.vpn, "eth0", "198.51.100.2/24")
	rig.ip("-n", r.box, "route", "add", "default", "via", "203.0.113.2")
	rig.ip("-n", r.inet, "addr", "add", "192.0.2.77/32", "dev", "lo") // a host on the internet
	rig.ip("-n", r.inet, "addr", "add", "192.0.2.99/32", "dev", "lo") // another
	for _, ns := range []string{r.lan, r.vpn} {
		rig.ip("-n", ns, "route", "add", "default", "dev", "eth0")
	}
	r.cfg = testConfig(t, "127.0.0.1:5999")
	r.cfg.TURN.Listen = "203.0.113.1:3478"
	r.cfg.TURN.RelayAddress = "203.0.113.1"
	r.cfg.TURN.Secret = "a-long-shared-turn-secret"
	// opening the private range does not open the LAN: it is the box's
	r.cfg.TURN.AllowedPeers = []string{"10.0.0.0/8", "192.0.2.77/32"}
	startGatewayIn(t, r.box, r.cfg)
	return r
}

// TestTURNRelayStopsWhenCredentialsLapse: an allocation made with
// credentials that then lapse (no call holds them) relays nothing more,
// without waiting for the client's next refresh.
func TestTURNRelayStopsWhenCredentialsLapse(t *testing.T) {
	t.Parallel()
	r := newTURNRig(t)
	public := newUDPSink(t, r.inet, "an internet host", "192.0.2.77:0")
	user, pass := gateway.TURNCredentials(r.cfg.TURN.Secret, "no-call", 8*time.Second, time.Now())
	short := turnAllocation(t, r.inet, r.cfg.TURN.Listen, user, pass)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// wait for "from" to arrive, resending; returns what arrived meanwhile
	deliver := func(relay net.PacketConn, msg string) []string {
		var got []string
		for {
			if _, err := relay.WriteTo([]byte(msg), public.addr); err != nil {
				t.Fatalf("relay %s: %v", msg, err)
			}
			select {
			case m := <-public.got:
				got = append(got, m)
				if strings.HasPrefix(m, fmt.Sprintf("%q", msg)) {
					return got
				}
			case <-time.After(500 * time.Millisecond):
			case <-ctx.Done():
				t.Fatalf("%s never reached the internet host", msg)
			}
		}
	}
	deliver(short, "while valid")
	// past the expiry (whole seconds) and the guard's one-second recheck
	for exp, _, _ := strings.Cut(user, ":"); ; {
		if n, _ := strconv.ParseInt(exp, 10, 64); time.Now().Unix() > n+1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("timed out")
		case <-time.After(200 * time.Millisecond):
		}
	}
	for len(public.got) > 0 {
		<-public.got
	}
	u2, p2 := gateway.TURNCredentials(r.cfg.TURN.Secret, "control", time.Hour, time.Now())
	control := turnAllocation(t, r.inet, r.cfg.TURN.Listen, u2, p2)
	for i := 0; i < 3; i++ {
		short.WriteTo([]byte("after expiry"), public.addr)
	}
	for _, m := range deliver(control, "control") {
		if strings.Contains(m, "after expiry") {
			t.Errorf("the relay of lapsed credentials still carries packets: %s", m)
		}
	}
}

// TestTURNIsNoOpenRelay: a holder of valid TURN credentials, on the
// internet side, tries to relay UDP to the box's loopback, to a port of
// the box itself, to a host on the LAN, to one on the VPN and to one on
// the internet: none receives anything. The relay is for the box's own
// WebRTC port; until the seventh review any internet host got relayed
// packets (any visitor of the portal's site had an anonymous UDP relay
// with the box's address). A host the admin opened in allowed_peers
// still gets them.
func TestTURNIsNoOpenRelay(t *testing.T) {
	r := newTURNRig(t)
	box, inet, lan, vpn, cfg := r.box, r.inet, r.lan, r.vpn, r.cfg

	sinks := []*udpSink{
		newUDPSink(t, box, "a service on the box's loopback", "127.0.0.1:0"),
		newUDPSink(t, box, "a service on the box's WAN address", "203.0.113.1:0"),
		newUDPSink(t, lan, "a LAN host", "10.77.1.2:0"),
		newUDPSink(t, vpn, "a VPN host", "198.51.100.2:0"),
		newUDPSink(t, inet, "an internet host", "192.0.2.99:0"),
	}
	public := newUDPSink(t, inet, "an internet host in allowed_peers", "192.0.2.77:0")

	user, pass := gateway.TURNCredentials(cfg.TURN.Secret, "attacker", time.Hour, time.Now())
	relay := turnAllocation(t, inet, cfg.TURN.Listen, user, pass)

	// The permitted peer proves the relay works at all, and the wait for
	// it is the window the forbidden peers had too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got := false; !got; {
		for _, s := range sinks {
			relay.WriteTo([]byte("relayed to "+s.name), s.addr) // refusals are expected
		}
		if _, err := relay.WriteTo([]byte("hello"), public.addr); err != nil {
			t.Fatalf("relay to an internet host: %v", err)
		}
		select {
		case <-public.got:
			got = true
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("an internet host got nothing through the relay in 30 s")
		}
	}
	// one more round, then what the forbidden peers received
	for _, s := range sinks {
		relay.WriteTo([]byte("relayed to "+s.name), s.addr)
	}
	relay.WriteTo([]byte("hello"), public.addr)
	<-public.got
	for _, s := range sinks {
		select {
		case m := <-s.got:
			t.Errorf("%s at %s received %s through the box's TURN relay", s.name, s.addr, m)
		default:
		}
	}
}

// TestTURNCredentialsEndWithTheCall: the credentials the portal hands out
// allocate until the token expires and, once the call started, while the
// call lasts; after it they are refused.
func TestTURNCredentialsEndWithTheCall(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	withLoopbackTURN(t, &cfg)
	cfg.Portal.TokenTTLSec = 8 // room to allocate before it lapses on a loaded machine
	svc := startGateway(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	turnCreds := func(res gateway.AuthorizeResponse) (string, string) {
		for _, s := range res.ICEServers {
			if len(s.URLs) > 0 && s.URLs[0][:5] == "turn:" {
				return s.Username, s.Credential
			}
		}
		t.Fatalf("no TURN server in %+v", res.ICEServers)
		return "", ""
	}
	// waitRefused waits (bounded) until the credentials stop allocating.
	waitRefused := func(what, user, pass string) {
		t.Helper()
		for {
			if err := allocate(t, cfg.TURN.Listen, user, pass); err != nil {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: credentials still allocate", what)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}

	// No call: the credentials die with the token.
	unused, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "support"})
	if err != nil {
		t.Fatal(err)
	}
	u0, p0 := turnCreds(unused)
	if err := allocate(t, cfg.TURN.Listen, u0, p0); err != nil {
		t.Fatalf("fresh credentials refused: %v", err)
	}
	waitRefused("after the token's expiry, without a call", u0, p0)

	// A call: its credentials outlive the token while it lasts.
	res, err := clientAuthorize(svc, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
	if err != nil {
		t.Fatal(err)
	}
	user, pass := turnCreds(res)
	c := dialWith(t, ctx, res)
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	expired := time.Now().Add(time.Duration(cfg.Portal.TokenTTLSec+2) * time.Second)
	for time.Now().Before(expired) {
		select {
		case <-ctx.Done():
			t.Fatal("timed out")
		case <-time.After(500 * time.Millisecond):
		}
	}
	if err := allocate(t, cfg.TURN.Listen, user, pass); err != nil {
		t.Errorf("credentials of a call in progress refused after the token's expiry: %v", err)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
	waitRefused("after the call ended", user, pass)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("timed out")
	}
}
