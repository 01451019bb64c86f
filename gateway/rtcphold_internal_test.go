package gateway

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestNoRTCPToHeldAddress: a PBX's old-style hold names c=0.0.0.0, and
// the box sends no RTP there (602cedd). Its RTCP reports and keyframe
// requests went on to 0.0.0.0:port, which Linux delivers to the box's own
// host: to whatever local service has that port.
func TestNoRTCPToHeldAddress(t *testing.T) {
	local, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	port := local.LocalAddr().(*net.UDPAddr).Port
	lo := testenv.FreePort(t)
	pool := newPortPool(lo, lo+100)
	leg, err := openPBXLeg(pool, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer leg.close()
	held := netip.IPv4Unspecified()
	leg.apply(&bridgePlan{Browser: codec{Name: "pcmu", Clock: 8000}, Remote: netip.AddrPortFrom(held, uint16(port-1)), RemoteRTCP: netip.AddrPortFrom(held, uint16(port)), Hold: true})
	leg.sendReport()
	leg.sendPLI()
	local.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1500)
	if n, from, err := local.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("RTCP sent to the held address 0.0.0.0 reached a local socket: % x from %s", buf[:min(n, 16)], from)
	}
}
