package netctl

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"edgebox/internal/testenv"
)

// fakeUpstream answers every A query with 10.9.9.9 on addr:53.
func fakeUpstream(t *testing.T, addr netip.Addr) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 53)))
	if err != nil {
		t.Skipf("cannot listen on %s:53: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, peer, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, _ := p.Question()
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: q.Class, TTL: 5}, dnsmessage.AResource{A: [4]byte{10, 9, 9, 9}})
			}
			out, _ := b.Finish()
			c.WriteToUDPAddrPort(out, peer)
		}
	}()
}

func resolveAt(server netip.Addr, name string) ([]netip.Addr, error) {
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp4", netip.AddrPortFrom(server, 53).String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return res.LookupNetIP(ctx, "ip4", name)
}

// TestLANDNS: the box's names resolve to its LAN address, others are
// forwarded to the uplink's server, and with no uplink the answer is a
// failure, not silence.
func TestLANDNS(t *testing.T) {
	testenv.RequireRoot(t) // binds port 53
	box, up := netip.MustParseAddr("127.0.91.1"), netip.MustParseAddr("127.0.91.2")
	fakeUpstream(t, up)
	var upstream atomic.Pointer[[]netip.Addr]
	d, err := startLANDNS(box, "edgebox-4f2a1c", func(string) []netip.Addr {
		if p := upstream.Load(); p != nil {
			return *p
		}
		return nil
	}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	for _, name := range []string{"edgebox.lan", "EDGEBOX.LAN", "box.lan", "edgebox-4f2a1c.lan", "edgebox"} {
		if got, err := resolveAt(box, name); err != nil || len(got) != 1 || got[0] != box {
			t.Errorf("%s: %v %v, want %s", name, got, err, box)
		}
	}
	if got, err := resolveAt(box, "www.example.test"); err == nil {
		t.Errorf("with no uplink www.example.test resolved to %v", got)
	}
	upstream.Store(&[]netip.Addr{up})
	if got, err := resolveAt(box, "www.example.test"); err != nil || len(got) != 1 || got[0].String() != "10.9.9.9" {
		t.Errorf("forwarded: %v %v, want 10.9.9.9", got, err)
	}
}
