package web

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSec5ConnectionsPerSourceCapped: a LAN host opened connections to
// the UI and kept them; one "GET /healthz" on each made web keep it alive
// idle for two minutes, and nothing bounded how many: web ran out of
// descriptors and answered no one, the admins on the VPN included. Now a
// source holds at most 64 connections (an interface 512); the rest are
// closed at once, and another source is still served. Fifth review.
func TestSec5ConnectionsPerSourceCapped(t *testing.T) {
	e := newTestEnv(t, false, Options{})
	httpURL, _ := liveServer(t, e)
	host := strings.TrimPrefix(httpURL, "http://")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.8")}}
	const opened = 200
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range opened {
		c, err := d.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var held atomic.Int32
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// one request, then idle: kept alive
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
			c.SetReadDeadline(deadline)
			if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
				held.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d connections from one source, %d held", opened, held.Load())
	if held.Load() > 64 {
		t.Errorf("web holds %d connections of one source, want at most 64", held.Load())
	}
	// Closed connections give their places back.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	var lastErr error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c, err := d.Dial("tcp", host)
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
	other := &http.Client{Transport: &http.Transport{
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.9")}}).DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := other.Get(httpURL + "/healthz")
	if err != nil {
		t.Fatalf("another source: %v", err)
	}
	res.Body.Close()
}
