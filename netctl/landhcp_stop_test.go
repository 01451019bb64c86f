package netctl

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// stubDHCPConn is a LAN DHCP socket whose read fails once failNow closes
// (fail), or that waits until closed.
type stubDHCPConn struct {
	fail    bool
	failNow chan struct{}
	closed  chan struct{}
}

func (c *stubDHCPConn) ReadFrom([]byte) (int, net.Addr, error) {
	if c.fail {
		select {
		case <-c.failNow:
			return 0, nil, &net.OpError{Op: "read", Net: "udp", Err: syscall.ENETDOWN}
		case <-c.closed:
			return 0, nil, net.ErrClosed
		}
	}
	<-c.closed
	return 0, nil, net.ErrClosed
}
func (c *stubDHCPConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }
func (c *stubDHCPConn) Close() error {
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return nil
}
func (c *stubDHCPConn) LocalAddr() net.Addr                   { return &net.UDPAddr{Port: 67} }
func (c *stubDHCPConn) SetDeadline(time.Time) error           { return nil }
func (c *stubDHCPConn) SetReadDeadline(time.Time) error       { return nil }
func (c *stubDHCPConn) SetWriteDeadline(time.Time) error      { return nil }
func (c *stubDHCPConn) String() string                        { return "stub" }
func (c *stubDHCPConn) SyscallConn() (syscall.RawConn, error) { return nil, errors.New("stub") }

// A LAN DHCP server whose loop ends by itself (a read error) while the LAN
// stays as it is must be started again, as its status promises ("it is
// started again"): before, only a server that could not start scheduled a
// retry, and one that stopped later waited for the next LAN change.
func TestLANDHCPServerThatStopsIsRetried(t *testing.T) {
	var opened atomic.Int32
	failNow := make(chan struct{})
	oldListen, oldAfter := listenLANDHCP, lanDHCPRetryAfter
	listenLANDHCP = func(string, *net.UDPAddr) (net.PacketConn, error) {
		return &stubDHCPConn{fail: opened.Add(1) == 1, failNow: failNow, closed: make(chan struct{})}, nil
	}
	lanDHCPRetryAfter = 50 * time.Millisecond
	defer func() { listenLANDHCP, lanDHCPRetryAfter = oldListen, oldAfter }()

	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{log: slog.New(slog.DiscardHandler), ctx: ctx, opts: Options{LeaseDir: t.TempDir()},
		cfg: config.Network{LAN: []config.LANPort{{Role: "lan1", Address: "192.0.2.1/24"}}},
		lan: []netapi.LANStatus{{Interface: "edgeboxnone0", Address: "192.0.2.1/24"}}}
	defer func() {
		cancel()
		s.mu.Lock()
		s.stopLANDHCPLocked()
		s.mu.Unlock()
	}()
	s.mu.Lock()
	s.syncLANDHCPLocked()
	s.mu.Unlock()
	close(failNow) // the server was running; now its socket fails
	if err := testenv.UntilEvery(5*time.Second, 10*time.Millisecond, "the stopped LAN DHCP server started again", func() (bool, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		l := s.lanDHCP["edgeboxnone0"]
		return opened.Load() >= 2 && l != nil && !l.stopped(), nil
	}); err != nil {
		t.Fatal(err)
	}
}
