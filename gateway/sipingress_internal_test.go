package gateway

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// The SIP socket's reads check each datagram's destination against the
// interface it came in on (IP_PKTINFO). Read through x/net/ipv4 that cost
// a getsockopt per datagram (x/sys asks the socket its protocol to tell
// L2TP addresses from UDP ones) and 15 allocations; the standard
// library's recvmsg and ipv4.ControlMessage.Parse do it with 6 (the
// peer's net.UDPAddr for sipgo, the packet info's addresses).
func TestIngressReadAllocations(t *testing.T) {
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ic, err := newIngressConn(u, func(why string) { t.Errorf("datagram dropped: %s", why) })
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.DialUDP("udp4", nil, u.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	msg := []byte("SIP/2.0 100 Trying\r\n\r\n")
	b := make([]byte, 2048)
	var from net.Addr
	read := func() {
		if _, err := peer.Write(msg); err != nil {
			t.Fatal(err)
		}
		var n int
		n, from, err = ic.ReadFrom(b)
		if err != nil || string(b[:n]) != string(msg) {
			t.Fatalf("read %q (%v), want %q", b[:n], err, msg)
		}
	}
	n := testing.AllocsPerRun(100, read)
	if from.String() != peer.LocalAddr().String() {
		t.Errorf("datagram from %v, want %v", from, peer.LocalAddr())
	}
	t.Logf("%.1f allocations per datagram read", n)
	if n > 6 {
		t.Errorf("%.1f allocations per datagram read, want at most 6", n)
	}
	// the box answers from the address the peer wrote to
	if _, err := ic.WriteTo([]byte("x"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
}

// The box answers a peer from the address the peer wrote to, also when
// sipgo names the peer as it does (net.ParseIP, sipgo's As16: IPv4 in 16
// bytes) while the read recorded it in 4: the two were different keys,
// so every answer left from the routed address (a SIP peer that wrote to
// the standby uplink's or the LAN's address got its answer from another).
func TestIngressAnswersFromTheAddressWrittenTo(t *testing.T) {
	ic, peer, sipgoAddr := ingressPeerWroteTo2(t)
	b := make([]byte, 64)
	if _, err := ic.WriteTo([]byte("SIP/2.0 200 OK"), sipgoAddr); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, from, err := peer.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := from.(*net.UDPAddr).IP.String(); got != "127.0.0.2" {
		t.Errorf("the answer came from %s, want 127.0.0.2 (the address the peer wrote to)", got)
	}
}

// A request the box makes to a peer (the trunk's REGISTER) leaves from the
// routed address, not the one the peer last wrote to: that may be an
// uplink's address that is gone, and the field day's trunk then never
// registered over LTE ("sendmsg: network is unreachable" from the old WAN
// address). An answer whose recorded address is no longer the box's goes
// out routed as well.
func TestIngressRequestsLeaveFromTheRoutedAddress(t *testing.T) {
	ic, peer, sipgoAddr := ingressPeerWroteTo2(t)
	pa := peer.LocalAddr().(*net.UDPAddr)
	b := make([]byte, 64)
	from := func(what string) string {
		t.Helper()
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, a, err := peer.ReadFrom(b)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return a.(*net.UDPAddr).IP.String()
	}
	if _, err := ic.WriteTo([]byte("REGISTER sip:pbx SIP/2.0"), sipgoAddr); err != nil {
		t.Fatal(err)
	}
	if got := from("the request"); got != "127.0.0.1" {
		t.Errorf("the box's request came from %s, want the routed 127.0.0.1", got)
	}
	// the address the peer wrote to went away (a new lease)
	ic.mu.Lock()
	ic.src[netip.AddrPortFrom(pa.AddrPort().Addr().Unmap(), pa.AddrPort().Port())] = netip.MustParseAddr("192.0.2.200")
	ic.mu.Unlock()
	if _, err := ic.WriteTo([]byte("SIP/2.0 200 OK"), sipgoAddr); err != nil {
		t.Fatalf("an answer whose address is gone: %v", err)
	}
	if got := from("the answer"); got != "127.0.0.1" {
		t.Errorf("the answer came from %s, want the routed 127.0.0.1", got)
	}
}

// ingressPeerWroteTo2 gives a wildcard ingress socket that has read one
// datagram from a peer on 127.0.0.1 written to 127.0.0.2 (the routed
// source toward the peer is 127.0.0.1), and the peer's address as sipgo
// names it (net.ParseIP: IPv4 in 16 bytes).
func ingressPeerWroteTo2(t *testing.T) (*ingressConn, *net.UDPConn, *net.UDPAddr) {
	t.Helper()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{}) // wildcard: both 127.0.0.1 and 127.0.0.2 reach it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	ic, err := newIngressConn(u, func(why string) { t.Errorf("datagram dropped: %s", why) })
	if err != nil {
		t.Fatal(err)
	}
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: u.LocalAddr().(*net.UDPAddr).Port}
	if _, err := peer.WriteTo([]byte("OPTIONS"), to); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ic.ReadFrom(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	pa := peer.LocalAddr().(*net.UDPAddr)
	return ic, peer, &net.UDPAddr{IP: net.ParseIP(pa.IP.String()), Port: pa.Port}
}
