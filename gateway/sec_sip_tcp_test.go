package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
)

// TestSIPTCPStrangerConnectionsEnd: SIP over TCP is open to whoever the
// firewall lets in, but only the PBX has any business keeping a
// connection. A stranger's connection, idle or not, ends after a bounded
// time (before the fix it stayed open for ever: one goroutine and one
// descriptor each, accumulating at the stranger rate limit); the PBX's
// connection stays and is answered.
func TestSIPTCPStrangerConnectionsEnd(t *testing.T) {
	defer gateway.SetStrangerTCPLife(time.Second)()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t, "tcp"))
	cfg.SIP.Listen = append(cfg.SIP.Listen, config.GatewaySIPListen{Transport: "tcp", Address: tcpAddr})
	startGateway(t, cfg)

	dial := func(from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	stranger := dial("127.0.0.2")
	pbx := dial("127.0.0.1")

	stranger.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, stranger); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Error("a stranger's idle SIP/TCP connection is still open after 10 s, want closed by the box")
	}

	// The PBX's connection, past the strangers' limit, still works.
	time.Sleep(500 * time.Millisecond)
	la := pbx.LocalAddr().String()
	fmt.Fprintf(pbx, "OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-tcp-1\r\nMax-Forwards: 70\r\n"+
		"From: <sip:pbx@127.0.0.1>;tag=p1\r\nTo: <sip:%s>\r\nCall-ID: tcp-life-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", tcpAddr, la, tcpAddr)
	pbx.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(pbx).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SIP/2.0 ") {
		t.Errorf("the PBX's SIP/TCP connection after the strangers' limit: %q, %v; want an answer", line, err)
	}
}
