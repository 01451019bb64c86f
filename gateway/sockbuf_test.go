package gateway

import (
	"log/slog"
	"net/netip"
	"testing"

	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// TestMediaSocketBuffers: the shared ICE socket and the PBX-side RTP
// sockets get their large buffers even above net.core.rmem_max (root).
func TestMediaSocketBuffers(t *testing.T) {
	testenv.RequireRoot(t) // SO_RCVBUFFORCE
	h := loopbackHost(t)
	// the kernel doubles the asked size
	if rcv, snd, err := sockBuf(h.sock); err != nil || rcv < 2*iceSockBuf || snd < 2*iceSockBuf {
		t.Errorf("ICE socket buffers rcv %d snd %d (err %v), want >= %d", rcv, snd, err, 2*iceSockBuf)
	}
	// a range from a port free now (the pool skips taken pairs): a fixed
	// range met another process's sockets on a shared machine
	lo := testenv.FreePort(t)
	pool := newPortPool(lo, lo+100)
	leg, err := openPBXLeg(pool, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer leg.close()
	if rcv, snd, err := sockBuf(leg.rtp); err != nil || rcv < 2*rtpSockBuf || snd < 2*rtpSockBuf {
		t.Errorf("RTP socket buffers rcv %d snd %d (err %v), want >= %d", rcv, snd, err, 2*rtpSockBuf)
	}
}

// loopbackHost is a WebRTC host on a free loopback ICE port (ICE-lite),
// closed when the test ends.
func loopbackHost(t *testing.T) *webrtcHost {
	t.Helper()
	m := config.DefaultGateway().Media
	m.ICEAddress, m.ICEPort, m.PublicAddress = "127.0.0.1", 0, "127.0.0.1"
	h, err := newWebRTCHost(m, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
	return h
}
