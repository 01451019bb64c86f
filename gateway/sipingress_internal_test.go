package gateway

import (
	"net"
	"testing"
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
