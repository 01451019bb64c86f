package calldial

import (
	"context"
	"net"
	"testing"
)

// TestDialerSpreadsLoopbackSources: a run's connections to a loopback
// gateway come from several source addresses, so its per-source cap on
// sockets without a token does not refuse a load run's calls.
func TestDialerSpreadsLoopbackSources(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dial := dialer("")
	sources := map[string]bool{}
	for range 20 {
		c, err := dial(context.Background(), "tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(s.RemoteAddr().String())
		sources[host] = true
		s.Close()
		c.Close()
	}
	if len(sources) < 20 {
		t.Fatalf("20 connections came from %d source addresses: %v", len(sources), sources)
	}
}
