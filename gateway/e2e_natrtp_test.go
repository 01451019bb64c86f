package gateway_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// A PBX behind NAT names in its SDP a port the box's packets cannot reach
// (SIPp's SDP: port 9) and its media comes from another port, the NAT's
// (a UDP relay of the test in front of SIPp's echo port, which also sends
// the PBX's first audio, as an agent's phone does). Before, the box sent
// the customer's voice to the SDP's port: the agent heard nothing
// (nothing echoed). Now the box sends where the PBX's media comes from
// (same address, other port).
func TestPBXMediaFromAnotherPort(t *testing.T) {
	t.Parallel()
	forEachStack(t, testPBXMediaFromAnotherPort)
}

func testPBXMediaFromAnotherPort(t *testing.T) {
	uas, c, ctx, box := answeredNATCall(t)
	natRelay(t, box, netip.AddrPortFrom(netip.MustParseAddr(uas.ip), uint16(uas.mport)))
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 20)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 15*time.Second)
}

// answeredNATCall is a call answered by SIPp behind the PBX's NAT
// (uas_nat_rtp: SDP port 9), and the box's RTP address for it.
func answeredNATCall(t *testing.T) (uas *sipp, c *client.Call, ctx context.Context, box netip.AddrPort) {
	t.Helper()
	uas = startSIPp(t, "uas_nat_rtp", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	c, err := client.Dial(ctx, wsURL, tok, client.Options{LoopbackOnly: true, Codec: "pcma"})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	calls := svc.Snapshot()
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	box, err = netip.ParseAddrPort(calls[0].PBX.Local)
	if err != nil {
		t.Fatal(err)
	}
	return uas, c, ctx, box
}

// natRelay is the PBX's NAT: a UDP port of its own that sends the PBX's
// first audio (10 PCMA packets) to box, then passes box's packets to pbx
// and pbx's back to box, until the test ends.
func natRelay(t *testing.T, box, pbx netip.AddrPort) {
	t.Helper()
	outside, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	inside, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var done atomic.Bool
	t.Cleanup(func() { done.Store(true); outside.Close(); inside.Close() })
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 8
	binary.BigEndian.PutUint32(pkt[8:], 0x5eed)
	for i := range 160 {
		pkt[12+i] = 0xd5 // A-law silence
	}
	for i := range 10 {
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		outside.WriteToUDPAddrPort(pkt, box)
	}
	pass := func(from *net.UDPConn, to *net.UDPConn, dst netip.AddrPort) {
		buf := make([]byte, 2048)
		for !done.Load() {
			n, _, err := from.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			to.WriteToUDPAddrPort(buf[:n], dst)
		}
	}
	go pass(outside, inside, pbx) // box -> NAT -> PBX
	go pass(inside, outside, box) // PBX -> NAT -> box
}

// The same for RTCP: the PBX behind NAT names port 10 (its SDP's 9 + 1)
// and its reports come from another port of its address. Before, the
// box's sender reports went on to port 10 (the PBX saw no RTCP from the
// box: no round-trip time, no loss figures, and some PBXs end a call
// whose RTCP stays silent); now they go where the PBX's RTCP comes from.
// RTCP from another address is not learnt (127.0.0.2 here, sending first).
// The RTCP side of a leg is the same for both stacks: one run.
func TestPBXRTCPFromAnotherPort(t *testing.T) {
	t.Parallel()
	uas, c, ctx, rtp := answeredNATCall(t)
	boxRTCP := netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)
	listen := func(ip string) *net.UDPConn {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		return u
	}
	stranger, nat := listen("127.0.0.2"), listen(uas.ip)
	// a receiver report (RFC 3550 6.4.2) with no report blocks
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0x5e, 0xed}
	if _, err := stranger.WriteToUDPAddrPort(rr, boxRTCP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := nat.WriteToUDPAddrPort(rr, boxRTCP); err != nil {
		t.Fatal(err)
	}
	// the box reports every 5 s
	nat.SetReadDeadline(time.Now().Add(12 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := nat.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no RTCP from the box at the port the PBX's RTCP comes from: %v", err)
	}
	if n < 8 || buf[1] != 200 || from != boxRTCP {
		t.Fatalf("got % x from %s, want a sender report from %s", buf[:min(n, 16)], from, boxRTCP)
	}
	stranger.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, from, err := stranger.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("RTCP from an address the SDP does not name was learnt: % x from %s", buf[:min(n, 16)], from)
	}
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	uas.wait(t, 15*time.Second)
}
