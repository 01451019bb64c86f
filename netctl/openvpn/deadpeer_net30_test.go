package openvpn

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// A server on topology net30 (openvpn 2.0-2.3's default, still in many
// old server configs) that pushes no keepalive: it pushes
// "ifconfig 10.x.0.6 10.x.0.5" and "route 10.x.0.1". The ifconfig peer is
// a virtual address nobody holds; the server's own tunnel address is the
// pushed host route. Probing the peer went unanswered, so an idle tunnel
// to a live server was taken for dead and restarted.
func TestIdleNet30TunnelToLiveServerNotRestarted(t *testing.T) {
	tn := newTestNet(t)
	pki := newTestPKI(t)
	tc := staticKey(t)
	startServer(t, tn, pki, tc, serverNoKeepalive, "topology net30")
	var probes atomic.Int32
	var probed atomic.Value
	probe := func(ctx context.Context, dev string, addr netip.Addr) error {
		probes.Add(1)
		probed.Store(addr)
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
	// Idle long enough for probeTries unanswered probes (2 s + 4 x 1 s).
	testenv.Until(12*time.Second, "the idle net30 tunnel restarted", testenv.Cond(func() bool {
		st := m.Status()
		return !connected(st) || st.PID != up.PID || st.LastError != ""
	}))
	if st := m.Status(); !connected(st) || st.PID != up.PID || st.Restarts != up.Restarts || st.LastError != "" {
		t.Fatalf("an idle net30 tunnel to a live server was restarted (probed %v, %d probes): %+v", probed.Load(), probes.Load(), st)
	}
	if probes.Load() == 0 {
		t.Fatalf("no probe sent on an idle net30 tunnel to a server without keepalive")
	}
	t.Logf("probed %v, %d probes", probed.Load(), probes.Load())
}

// A reply in parts (push-continuation 2 on all but the last) is read as
// one; the next reply (a reconnect) replaces it.
func TestPushReplyInPartsAndAgain(t *testing.T) {
	var w peerWatch
	w.onPush("PUSH: Received control message: 'PUSH_REPLY,route 10.8.0.1,topology net30,ping-restart 60,push-continuation 2'")
	w.onPush("PUSH: Received control message: 'PUSH_REPLY,ifconfig 10.8.0.6 10.8.0.5,push-continuation 1'")
	if w.gateway.String() != "10.8.0.1" || !w.serverPings {
		t.Errorf("reply in two parts: gateway %s pings %v, want 10.8.0.1 true", w.gateway, w.serverPings)
	}
	w.onPush("PUSH: Received control message: 'PUSH_REPLY,route-gateway 10.9.0.1,topology subnet,ifconfig 10.9.0.2 255.255.255.0'")
	if w.gateway.String() != "10.9.0.1" || w.serverPings {
		t.Errorf("the next reply: gateway %s pings %v, want 10.9.0.1 false", w.gateway, w.serverPings)
	}
}
