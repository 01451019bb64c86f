package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// fromInternet is the test's internet: 127.0.1.0/24; other loopback
// sources are inside (the LAN, the VPN).
func fromInternet(ip netip.Addr) bool {
	return netip.MustParsePrefix("127.0.1.0/24").Contains(ip.Unmap())
}

// dialMany opens per connections from each of n internet sources.
func dialMany(t *testing.T, addr string, n, per int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for src := range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(10+src))}, Timeout: 5 * time.Second}
		for range per {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
	return conns
}

// heldWithin says whether the other end keeps c open (a read times out)
// rather than closing it.
func heldWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// TestSec6InternetCannotFillInsideConnectionBudgets: the portal's 1024
// connections and SIP/TCP's 256 strangers' connections were one budget
// for every source: many internet hosts together filled them, and a
// portal server or a SIP client on the LAN or the VPN was refused with
// them. Inside sources now have a budget of their own. The sources are
// loopback addresses the test calls internet (127.0.1.x) and inside (the
// rest). Not parallel: it replaces the route lookup. Sixth review.
func TestSec6InternetCannotFillInsideConnectionBudgets(t *testing.T) {
	defer gateway.SetInsideSource(func(ip netip.Addr) bool { return !fromInternet(ip) })()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	sipAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	cfg.SIP.Listen = append(cfg.SIP.Listen, config.GatewaySIPListen{Transport: "tcp", Address: sipAddr})
	svc := startGateway(t, cfg)

	for _, tc := range []struct {
		name, addr string
		n, per     int
	}{
		{"portal", svc.PortalAddr(), 5, 230}, // 1150 > 1024, each source within its 256
		{"SIP/TCP", sipAddr, 30, 10},         // 300 > 256, each within its rate burst
	} {
		conns := dialMany(t, tc.addr, tc.n, tc.per)
		var wg sync.WaitGroup
		var mu sync.Mutex
		held := 0
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if heldWithin(c, 2*time.Second) {
					mu.Lock()
					held++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		t.Logf("%s: %d connections from the internet, %d held", tc.name, len(conns), held)
		if held == len(conns) {
			t.Errorf("%s: all %d internet connections held: the test did not reach the cap", tc.name, held)
		}
		lan := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, 5)}, Timeout: 5 * time.Second}
		c, err := lan.Dial("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if !heldWithin(c, 500*time.Millisecond) {
			t.Errorf("%s: with the internet's connections at the cap, a LAN host's connection is closed at once: locked out", tc.name)
		}
		c.Close()
		for _, c := range conns {
			c.Close()
		}
	}
}
