package gateway_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// TestSec5STUNReflectionBounded: the built-in STUN server answered every
// Binding request (20 bytes) with 52, and the TURN server every
// unauthenticated request with a 401 of about 100 bytes (Binding with
// 32), to whatever source the datagram claimed and without any bound:
// an internet host flooding spoofed requests had the box reflect 2-4
// times its traffic at a victim. Now a source (an IPv6 /64) gets at most
// a burst of 100 and 10 a second of such answers; requests that prove
// their source (TURN with credentials, media) are not counted. The bound
// below is the burst plus the refill over the time the test took, so a
// slow machine only makes it looser. Fifth review.
func TestSec5STUNReflectionBounded(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, fmt.Sprintf("127.0.0.1:%d", freeUDPTCPPort(t)))
	cfg.STUN.Listen = fmt.Sprintf("127.0.0.1:%d", freePort(t, "udp"))
	withLoopbackTURN(t, &cfg)
	startGateway(t, cfg)

	const sent = 400
	for _, tc := range []struct {
		port string
		req  func() *stun.Message
	}{
		{cfg.STUN.Listen, func() *stun.Message { return stun.MustBuild(stun.TransactionID, stun.BindingRequest) }},
		{cfg.TURN.Listen, func() *stun.Message { return stun.MustBuild(stun.TransactionID, stun.BindingRequest) }},
		{cfg.TURN.Listen, func() *stun.Message {
			// an Allocate without credentials: REQUESTED-TRANSPORT UDP
			return stun.MustBuild(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
				stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}})
		}},
	} {
		to, _ := net.ResolveUDPAddr("udp", tc.port)
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 5)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		reqBytes, answers, ansBytes := 0, 0, 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 1500)
			for {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, _, err := c.ReadFromUDP(buf)
				if err != nil {
					return
				}
				answers++
				ansBytes += n
			}
		}()
		for range sent {
			m := tc.req()
			reqBytes += len(m.Raw)
			c.WriteToUDP(m.Raw, to)
			time.Sleep(100 * time.Microsecond) // within the socket buffers
		}
		<-done
		c.Close()
		elapsed := time.Since(start)
		bound := 100 + int(elapsed.Seconds()*10) + 1
		t.Logf("%s: %d requests (%d bytes), %d answers (%d bytes) in %v", tc.port, sent, reqBytes, answers, ansBytes, elapsed.Round(time.Millisecond))
		if answers == 0 {
			t.Errorf("%s: no answer at all: the bound must leave real clients theirs", tc.port)
		}
		if answers > bound {
			t.Errorf("%s: one source got %d answers (%d bytes for %d sent), want at most %d: a reflector", tc.port, answers, ansBytes, reqBytes, bound)
		}
	}
}
