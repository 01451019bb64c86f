package netctl

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"edgebox/internal/testenv"
)

// TestSec6LANDNSOneClientCannotTakeEverySlot: the forwarder holds at most
// 64 queries at once, each up to 2 s per upstream server that does not
// answer. One LAN host asking for names whose servers stay silent (random
// names under a dead zone) held all 64, and every other LAN host, desk
// phones looking up their PBX included, got no answer while it went on.
// One client now holds at most 16. On loopback; the upstream answers
// ok.example. and stays silent for the rest. Sixth review.
func TestSec6LANDNSOneClientCannotTakeEverySlot(t *testing.T) {
	testenv.RequireRoot(t) // binds port 53
	box, up := netip.MustParseAddr("127.0.93.1"), netip.MustParseAddr("127.0.93.2")
	uc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(up, 53)))
	if err != nil {
		t.Skipf("cannot listen on %s:53: %v", up, err)
	}
	defer uc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, peer, err := uc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil || !strings.HasPrefix(q.Name.String(), "ok.") {
				continue // a dead zone: silence
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionAvailable: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: q.Class, TTL: 5}, dnsmessage.AResource{A: [4]byte{10, 9, 9, 9}})
			out, _ := b.Finish()
			uc.WriteToUDPAddrPort(out, peer)
		}
	}()
	d, err := startLANDNS(box, "edgebox-6f", func(string) []netip.Addr { return []netip.Addr{up} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	query := func(id uint16, name string) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		out, _ := b.Finish()
		return out
	}
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(box, 53))
	flooder, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 93, 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	for i := range 200 {
		flooder.WriteToUDP(query(uint16(i), "x"+strings.Repeat("a", i%20)+".dead.example."), to)
	}
	time.Sleep(50 * time.Millisecond) // the flood's queries are in flight (2 s each)
	phone, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 93, 11)})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	// Asked once, while the flood holds the slots: a query that finds no
	// slot is dropped, not queued, so without the per-client bound no
	// answer ever comes, however long the phone waits; the wait is long
	// so that a slow machine is not taken for the bug.
	phone.SetReadDeadline(time.Now().Add(10 * time.Second))
	phone.WriteToUDP(query(0x77, "ok.example."), to)
	buf := make([]byte, 1500)
	n, _, err := phone.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("while one LAN host's queries to a dead zone are in flight, another host's query gets no answer: %v", err)
	}
	var p dnsmessage.Parser
	if h, err := p.Start(buf[:n]); err != nil || h.ID != 0x77 || h.RCode != dnsmessage.RCodeSuccess {
		t.Fatalf("the other host's answer: %+v %v", h, err)
	}
}
