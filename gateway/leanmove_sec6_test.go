package gateway_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
	"edgebox/internal/config"

	"github.com/pion/stun/v3"
)

// TestSec6LeanBrowserMovesNotLoggedEach: a caller holds its call's ICE
// password, so it may nominate the pair from a new address with every
// check; the lean stack logged "browser moved" for each, as fast as the
// caller sent them: one call token, the gateway's log flooded. A burst
// is logged now, then a line a minute with how many more. Sixth review.
func TestSec6LeanBrowserMovesNotLoggedEach(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	cfg.Media.Stack = config.StackLean
	var mu sync.Mutex
	var logs bytes.Buffer
	svc, err := gateway.New(cfg, slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, OwnSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, c)
	ice, err := c.ICE()
	if err != nil {
		t.Fatal(err)
	}
	box := net.UDPAddrFromAddrPort(ice.Remote)
	prio := make([]byte, 4)
	binary.BigEndian.PutUint32(prio, 0x7effffff)
	tie := make([]byte, 8)
	binary.BigEndian.PutUint64(tie, ^uint64(0))
	const moves = 100
	for range moves {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		m, err := stun.Build(stun.TransactionID, stun.BindingRequest,
			stun.NewUsername(ice.RemoteUfrag+":"+ice.LocalUfrag),
			stun.RawAttribute{Type: stun.AttrICEControlling, Value: tie},
			stun.RawAttribute{Type: stun.AttrPriority, Value: prio},
			stun.RawAttribute{Type: stun.AttrUseCandidate},
			stun.NewShortTermIntegrity(ice.RemotePwd), stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		u.WriteTo(m.Raw, box)
		u.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		u.Read(buf) // the box's answer: the check was taken
		u.Close()
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	lines := strings.Count(logs.String(), "browser moved")
	mu.Unlock()
	t.Logf("%d nominating checks from new ports: %d 'browser moved' lines", moves, lines)
	if lines == 0 {
		t.Fatal("no move logged: the checks did not reach the lean leg")
	}
	if lines > 6 {
		t.Errorf("%d moves logged %d lines, want a burst (5) and a summary", moves, lines)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 10*time.Second)
}
