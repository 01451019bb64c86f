package gateway_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"

	"github.com/pion/turn/v4"
)

// TestSec6TURNRefusedPeersNotLoggedEach: a caller with one call's TURN
// credentials (any visitor of the portal's site gets them) asked for
// permissions to peers the relay refuses as fast as it liked; each was a
// log line (and a netlink dump of the box's addresses): a flood of the
// gateway's log at will. A burst is logged now, then a line now and then
// saying how many more. On loopback. Sixth review.
func TestSec6TURNRefusedPeersNotLoggedEach(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	withLoopbackTURN(t, &cfg)
	var mu sync.Mutex
	var logs bytes.Buffer
	svc, err := gateway.New(cfg, slog.New(slog.NewTextHandler(lockedBuf{&mu, &logs}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	user, pass := gateway.TURNCredentials(cfg.TURN.Secret, "attacker", time.Hour, time.Now())
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{TURNServerAddr: cfg.TURN.Listen, STUNServerAddr: cfg.TURN.Listen,
		Username: user, Password: pass, Realm: "edgebox", Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocation with valid credentials: %v", err)
	}
	defer relay.Close()
	const peers = 100
	for i := range peers { // LAN-range peers: refused
		relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 99, byte(i>>8), byte(i)), Port: 9})
	}
	mu.Lock()
	lines := strings.Count(logs.String(), "TURN peer refused")
	mu.Unlock()
	t.Logf("%d refused peers asked for: %d log lines", peers, lines)
	if lines == 0 {
		t.Fatal("no refusal logged at all: the test did not reach the guard")
	}
	if lines > 30 {
		t.Errorf("%d refused peers logged %d lines, want a burst and a summary", peers, lines)
	}
}
