package udpbatch

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
)

func pair(t *testing.T, network, addr string) (*net.UDPConn, *net.UDPConn) {
	t.Helper()
	var cs [2]*net.UDPConn
	for i := range cs {
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs[0], cs[1]
}

// A batch sent with sendmmsg arrives whole and in order through recvmmsg,
// from IPv4 sockets and from dual-stack ones.
func TestSendRecvBatch(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp", "[::]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			a, b := pair(t, tc.network, tc.addr)
			to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), b.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			arc, _ := a.SyscallConn()
			brc, _ := b.SyscallConn()
			out, in := New(8, 1500), New(16, 1500)
			for i := range 8 {
				n := copy(out.Slot()[:1500], fmt.Sprintf("packet %d", i))
				out.Add(n, to)
			}
			if out.Slot() != nil {
				t.Fatal("a full batch offers a slot")
			}
			if err := out.Send(arc); err != nil || out.N != 0 {
				t.Fatalf("send: %v, %d left", err, out.N)
			}
			got := 0
			for got < 8 {
				if err := in.Recv(brc); err != nil {
					t.Fatal(err)
				}
				for i := range in.N {
					p, from := in.Packet(i)
					if want := fmt.Sprintf("packet %d", got); !bytes.Equal(p, []byte(want)) {
						t.Fatalf("got %q want %q", p, want)
					}
					if from.Port() != a.LocalAddr().(*net.UDPAddr).AddrPort().Port() || !from.Addr().Is4() {
						t.Fatalf("from %v", from)
					}
					got++
				}
			}
		})
	}
}

func TestBatchDoesNotAllocate(t *testing.T) {
	a, b := pair(t, "udp4", "127.0.0.1:0")
	to := b.LocalAddr().(*net.UDPAddr).AddrPort()
	arc, _ := a.SyscallConn()
	brc, _ := b.SyscallConn()
	out, in := New(4, 1500), New(4, 1500)
	allocs := testing.AllocsPerRun(200, func() {
		for range 4 {
			out.Add(copy(out.Slot()[:100], "x"), to)
		}
		out.Send(arc)
		for n := 0; n < 4; n += in.N {
			in.Recv(brc)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round", allocs)
	}
}
