package openvpn

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// A real openvpn server that pushes no keepalive is killed (SIGKILL, as a
// crash or power cut) under a connected, idle tunnel. Before the probes the
// box's openvpn stayed CONNECTED for ever; an idle tunnel whose server
// lives must not be restarted either.
func TestDeadServerWithoutKeepalive(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	srv := startServer(t, tn, pki, tc, serverNoKeepalive)
	var probes atomic.Int32
	probe := func(ctx context.Context, dev string, addr netip.Addr) error {
		probes.Add(1)
		return testenv.DoIn(tn.cli, func() error { return PingOnce(ctx, dev, addr) })
	}
	m := newTestManager(t, tn, Options{IdleProbeAfter: 2 * time.Second, ProbeEvery: time.Second, Probe: probe})
	cert, key := pki.valid(t, "box1", false)
	if err := m.Import(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "box1.ovpn"); err != nil {
		t.Fatalf("import: %v", err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	up := waitStatus(t, m, 20*time.Second, "CONNECTED", connected)

	// Idle with the server alive: the probes are answered, nothing restarts.
	testenv.Until(10*time.Second, "probes on the idle tunnel", testenv.Cond(func() bool { return probes.Load() >= 3 }))
	st := m.Status()
	if probes.Load() < 3 {
		t.Errorf("%d probes sent in 10 s of an idle tunnel (idle after 2 s), want some", probes.Load())
	}
	if !connected(st) || st.PID != up.PID || st.Restarts != up.Restarts || st.LastError != "" {
		t.Fatalf("an idle tunnel to a live server was disturbed: %+v (was pid %d, %d restarts)", st, up.PID, up.Restarts)
	}

	srv.kill()
	st = waitStatus(t, m, 30*time.Second, "the dead server noticed", func(st Status) bool {
		return st.State != StateConnected && strings.HasPrefix(st.LastError, ErrServerSilent)
	})
	t.Logf("after the server died: %s: %s", st.State, st.LastError)
}

func TestPushReplyGateway(t *testing.T) {
	for _, c := range []struct {
		msg   string
		gw    string
		pings bool
	}{
		{"PUSH: Received control message: 'PUSH_REPLY,route-gateway 10.8.0.1,topology subnet,ping 10,ping-restart 60,ifconfig 10.8.0.2 255.255.255.0,peer-id 0,cipher AES-256-GCM'", "10.8.0.1", true},
		// net30: the ifconfig peer is a virtual address nobody answers on;
		// the server is the pushed host route, or the pool's first host
		// under client-to-client
		{"PUSH: Received control message: 'PUSH_REPLY,route 10.8.0.1,topology net30,ifconfig 10.8.0.6 10.8.0.5,peer-id 1'", "10.8.0.1", false},
		{"PUSH: Received control message: 'PUSH_REPLY,route 192.168.7.9,route 10.8.0.1,topology net30,ifconfig 10.8.0.6 10.8.0.5'", "10.8.0.1", false},
		{"PUSH: Received control message: 'PUSH_REPLY,route 192.168.7.0 255.255.255.0,route 10.8.0.0 255.255.255.0,topology net30,ifconfig 10.8.0.10 10.8.0.9'", "10.8.0.1", false},
		// no route names the server: the peer (a p2p tunnel)
		{"PUSH: Received control message: 'PUSH_REPLY,ifconfig 10.4.0.2 10.4.0.1'", "10.4.0.1", false},
		{"PUSH: Received control message: 'PUSH_REPLY,route-gateway 10.9.0.1,topology subnet,ifconfig 10.9.0.2 255.255.255.0'", "10.9.0.1", false},
		{"TLS: Initial packet from [AF_INET]10.199.1.1:1194", "invalid IP", false},
	} {
		var w peerWatch
		w.onPush(c.msg)
		if w.gateway.String() != c.gw || w.serverPings != c.pings {
			t.Errorf("%q: gateway %s pings %v, want %s %v", c.msg, w.gateway, w.serverPings, c.gw, c.pings)
		}
	}
}

// A UDP client that pulls its options keeps openvpn's initial
// ping-restart (120 s) when the server pushes none, so a tunnel to a live
// server that sends nothing was restarted every two idle minutes. The
// box's probes make the server answer before that. The 120 s are
// shortened to 6 here with --ping-restart (what openvpn itself sets).
func TestIdleTunnelToSilentServerNotRestarted(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc, serverNoKeepalive)
	m, states := newTestManagerLog(t, tn, Options{IdleProbeAfter: 2 * time.Second, ProbeEvery: time.Second,
		ExtraArgs: []string{"--ping-restart", "6"}})
	cert, key := pki.valid(t, "box1", false)
	if err := m.Import(strings.NewReader(clientProfile(tn, pki, cert, key, tc)), "box1.ovpn"); err != nil {
		t.Fatalf("import: %v", err)
	}
	runManager(t, m)
	m.SetUplink(true, "wan")
	up := waitStatus(t, m, 20*time.Second, "CONNECTED", connected)
	from := states.len()
	// three of openvpn's idle timeouts
	testenv.Until(18*time.Second, "an idle tunnel restarted", testenv.Cond(func() bool { return states.seen(from, StateReconnecting) }))
	if st := m.Status(); states.seen(from, StateReconnecting) || !connected(st) || st.PID != up.PID {
		states.mu.Lock()
		seen := slices.Clone(states.states[from:])
		states.mu.Unlock()
		t.Errorf("an idle tunnel to a live server was restarted: states %v, now %+v", seen, st)
	}
}
