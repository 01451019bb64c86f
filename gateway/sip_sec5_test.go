package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/config"
)

// TestSec5StrangerAnswerNoLargerThanRequest: the box answers a stranger's
// SIP request over UDP statelessly (one answer, first review), but that
// answer must not be larger than the request: the source of a UDP request
// is not proven, so an answer larger than its request makes the box an
// amplifier toward whatever address an internet host writes as its
// source. The compact forms (RFC 3261 7.3.3) make a request of some 110
// bytes that the full header names, a To tag, Allow, Accept and
// Content-Length grew to 300 (OPTIONS) and 220 (INVITE). Fifth review.
func TestSec5StrangerAnswerNoLargerThanRequest(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	svc := startGateway(t, cfg)
	to, err := net.ResolveUDPAddr("udp", sipListen(svc))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.3")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 65535)
	for i, method := range []string{"OPTIONS", "INVITE", "MESSAGE", "REGISTER"} {
		req := fmt.Sprintf("%s sip:a SIP/2.0\r\nv:SIP/2.0/UDP b;branch=z9hG4bK%d\r\nf:<sip:c>;tag=%d\r\nt:<sip:a>\r\ni:%d\r\nCSeq:1 %s\r\n\r\n", method, i, i, i, method)
		if _, err := c.WriteToUDP([]byte(req), to); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			continue // no answer is no amplification
		}
		if n > len(req) {
			t.Errorf("%s of %d bytes from a stranger answered with %d bytes (x%.1f):\n%s", method, len(req), n, float64(n)/float64(len(req)), buf[:n])
		}
	}
	// A full-size probe (the monitoring case) still gets its answer.
	p := newSIPPeer(t, "127.0.0.3", sipListen(svc))
	p.request(t, "OPTIONS", "monitor", "")
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := p.conn.ReadFromUDP(buf); err != nil {
		t.Errorf("a monitoring OPTIONS of normal size got no answer: %v", err)
	}
}

// TestSec5SIPTCPStrangersCappedInAll: a stranger's SIP/TCP connection
// ends after 30 s and one source opens about 40 in that time (its rate
// limit), but nothing bounded how many sources did so: 41 addresses held
// 410 connections, a botnet or an IPv6 /48 (65536 /64s) as many as the
// gateway had descriptors, which the calls need. Now at most 256
// strangers' connections are open at once; the PBX is not counted.
// Fifth review.
func TestSec5SIPTCPStrangersCappedInAll(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	cfg.SIP.Listen = append(cfg.SIP.Listen, config.GatewaySIPListen{Transport: "tcp", Address: tcpAddr})
	startGateway(t, cfg)

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for src := 10; src < 51; src++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(src))}, Timeout: 5 * time.Second}
		for range 10 { // within one source's burst
			c, err := d.Dial("tcp", tcpAddr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
	}
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
	t.Logf("%d strangers' connections from 41 sources, %d held", len(conns), held.Load())
	if held.Load() > 256 {
		t.Errorf("the gateway holds %d strangers' SIP/TCP connections at once, want at most 256", held.Load())
	}
	// Closed connections give their places back: once the strangers'
	// connections are gone, a new stranger is held again, not refused.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, 60)}, Timeout: 5 * time.Second}
	var lastErr error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		c, err := d.Dial("tcp", tcpAddr)
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
		t.Errorf("after the strangers closed their connections a new one is still refused (%v): places leak", lastErr)
	}

	// The PBX still connects and is answered.
	pbx, err := net.DialTimeout("tcp", tcpAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pbx.Close()
	la := pbx.LocalAddr().String()
	fmt.Fprintf(pbx, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-cap-1\r\nMax-Forwards: 70\r\n"+
		"From: <sip:pbx@127.0.0.1>;tag=p1\r\nTo: <sip:%s>\r\nCall-ID: cap-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", tcpAddr, la, tcpAddr)
	pbx.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(pbx).ReadString('\n'); err != nil || !strings.HasPrefix(line, "SIP/2.0 ") {
		t.Errorf("the PBX over TCP: %q, %v; want an answer", line, err)
	}
}
