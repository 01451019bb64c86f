package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSec5PortalConnectionsPerSourceCapped: one internet host opened
// connections to the portal and sent nothing; each held a descriptor of
// the gateway for the header timeout, however many there were, and the
// gateway's descriptors (4096 without a raised limit) carry SIP, the
// media and the calls too. Now a source holds at most 256 connections
// that are not WebSockets yet (1024 in all); the rest are closed at once,
// and another source is still served. Fifth review.
func TestSec5PortalConnectionsPerSourceCapped(t *testing.T) {
	t.Parallel()
	svc := startGateway(t, testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t))))
	addr := svc.PortalAddr()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.6")}}
	const opened = 400
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range opened {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Held or closed: a read ends with EOF once the portal closed it,
	// and times out while it holds it.
	// All at once, well inside the portal's 10 s header timeout.
	var held atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(deadline)
			if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
				held.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d connections opened from one source, %d held by the portal", opened, held.Load())
	if held.Load() > 256 {
		t.Errorf("the portal holds %d silent connections from one source, want at most 256", held.Load())
	}
	// Another source is served meanwhile.
	// Closed connections give their places back.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	var lastErr error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, lastErr = io.Copy(io.Discard, c)
		c.Close()
		if errors.Is(lastErr, os.ErrDeadlineExceeded) {
			break // held
		}
	}
	if !errors.Is(lastErr, os.ErrDeadlineExceeded) {
		t.Errorf("after its connections closed, the source's new one is still refused (%v): places leak", lastErr)
	}
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.7")}}).DialContext}}
	res, err := other.Get("http://" + addr + "/sdk/edgebox.js")
	if err != nil {
		t.Fatalf("another source: %v", err)
	}
	res.Body.Close()
	if v := metricValue(t, svc, `edgebox_gateway_portal_refusals_total{reason="too_many_connections"}`); v == "" || v == "0" {
		t.Errorf("refused connections counted %q", v)
	}
}
