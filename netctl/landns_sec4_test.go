package netctl

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"edgebox/internal/testenv"
)

// TestSec4LANDNSForwardedAnswerNotForgeable: the forwarder sent the LAN
// client's own query ID upstream and took the first reply with that ID.
// Desk phones and other small LAN devices count their IDs up, so someone
// on the internet who floods the uplink with answers needed to hit only
// the source port, and could send LAN hosts to an address of their choice
// (the PBX's name, a provisioning server's). The box now asks upstream
// with an ID of its own and takes only a reply to the same question.
func TestSec4LANDNSForwardedAnswerNotForgeable(t *testing.T) {
	testenv.RequireRoot(t) // binds port 53
	box, up := netip.MustParseAddr("127.0.92.1"), netip.MustParseAddr("127.0.92.2")
	const clientID = 0x1234
	uc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(up, 53)))
	if err != nil {
		t.Skipf("cannot listen on %s:53: %v", up, err)
	}
	defer uc.Close()
	answer := func(id uint16, q dnsmessage.Question, a [4]byte) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: true, RecursionAvailable: true})
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: q.Class, TTL: 5}, dnsmessage.AResource{A: a})
		out, _ := b.Finish()
		return out
	}
	go func() {
		buf := make([]byte, 1500)
		n, peer, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			return
		}
		q, _ := p.Question()
		// The forger knows the client's ID and hits the port, first with
		// an answer to another name, then to this one.
		other := q
		other.Name = dnsmessage.MustNewName("elsewhere.example.")
		uc.WriteToUDPAddrPort(answer(clientID, other, [4]byte{6, 6, 6, 6}), peer)
		uc.WriteToUDPAddrPort(answer(clientID, q, [4]byte{6, 6, 6, 7}), peer)
		time.Sleep(50 * time.Millisecond)
		uc.WriteToUDPAddrPort(answer(h.ID, q, [4]byte{10, 9, 9, 9}), peer)
	}()
	d, err := startLANDNS(box, "edgebox-4f2a1c", func(string) []netip.Addr { return []netip.Addr{up} }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)

	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: clientID, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("pbx.example.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	query, _ := b.Finish()
	c, err := net.Dial("udp4", netip.AddrPortFrom(box, 53).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(query); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var p dnsmessage.Parser
	h, err := p.Start(buf[:n])
	if err != nil || h.ID != clientID {
		t.Fatalf("reply header %+v, %v: want the client's ID %#x back", h, err, clientID)
	}
	p.SkipAllQuestions()
	rr, err := p.Answer()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := rr.Body.(*dnsmessage.AResource)
	if !ok || a.A != [4]byte{10, 9, 9, 9} {
		t.Fatalf("the LAN client got %v, forged by an answer with its own ID; want 10.9.9.9 from the upstream server", rr.Body)
	}
}
