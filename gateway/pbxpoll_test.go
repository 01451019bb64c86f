package gateway

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/internal/udpbatch"
)

// pbxRecvModes runs f on PBX legs whose pollers read with io_uring and
// with the recvfrom fallback ($EDGEBOX_NO_IO_URING_RECV's switch; a
// poller makes its ring when its first socket is added).
func pbxRecvModes(t *testing.T, f func(t *testing.T, pool *portPool, ring bool)) {
	for _, ring := range []bool{true, false} {
		t.Run(map[bool]string{true: "io_uring", false: "recvfrom"}[ring], func(t *testing.T) {
			was := udpbatch.NoURingRecv
			udpbatch.NoURingRecv = !ring
			defer func() { udpbatch.NoURingRecv = was }()
			// ports another test holds are skipped by the pool
			pool := newPortPool(24100, 24300)
			if ring {
				m := udpbatch.NewMulti(1, 64)
				ring = m.Batched()
				m.Close()
				if !ring {
					t.Skip("no io_uring here (or $EDGEBOX_NO_IO_URING)")
				}
			}
			f(t, pool, ring)
		})
	}
}

// legReceiver collects what reached one leg's browser side.
type legReceiver struct {
	mu    sync.Mutex
	got   [][]byte
	wrong int // payloads of another call
}

// A packet from the PBX on call A's RTP port reaches call A's browser
// side and never B's, on the legs' shared pollers; and a call hung up
// while the PBX still sends to it gets nothing more, its ports free at
// once, while the other call goes on.
func TestPBXLegsKeepTheirOwnPackets(t *testing.T) {
	pbxRecvModes(t, func(t *testing.T, pool *portPool, ring bool) {
		pbx, err := udpbatch.Listen(netip.MustParseAddrPort("127.0.0.1:0"), false)
		if err != nil {
			t.Fatal(err)
		}
		defer pbx.Close()
		const n = 4
		legs := make([]*pbxLeg, n)
		recv := make([]*legReceiver, n)
		for i := range legs {
			l, err := openPBXLeg(pool, netip.MustParseAddr("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			l.apply(&bridgePlan{Browser: codec{Name: "pcmu", PT: 0, Clock: 8000}, PBXPT: 0, Remote: pbx.LocalAddr()})
			r := &legReceiver{}
			mark := byte('A' + i)
			if err := l.poll(func(pkt []byte, from netip.AddrPort) {
				if pt, _ := l.forBrowser(pkt, from); pt < 0 {
					return
				}
				r.mu.Lock()
				defer r.mu.Unlock()
				if pkt[rtpHeaderLen] != mark {
					r.wrong++
				}
				r.got = append(r.got, bytes.Clone(pkt))
			}); err != nil {
				t.Fatal(err)
			}
			legs[i], recv[i] = l, r
			if l.poller.Batched() != ring {
				t.Fatalf("leg %d's poller reads with io_uring: %v, want %v", i, l.poller.Batched(), ring)
			}
		}
		count := func(i int) (int, int) {
			recv[i].mu.Lock()
			defer recv[i].mu.Unlock()
			return len(recv[i].got), recv[i].wrong
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // the PBX: a packet to each leg every 0.5 ms, bounded
			defer close(done)
			pkt := make([]byte, rtpHeaderLen+160)
			pkt[0] = 0x80
			for seq := 0; seq < 20000; seq++ {
				select {
				case <-stop:
					return
				default:
				}
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				for i, l := range legs {
					pkt[rtpHeaderLen] = byte('A' + i)
					pbx.WriteToUDPAddrPort(pkt, l.local)
				}
				time.Sleep(500 * time.Microsecond)
			}
		}()
		defer func() { close(stop); <-done }()
		testenv.WaitFor(t, 10*time.Second, "packets on every leg", func() (bool, error) {
			for i := range legs {
				if got, _ := count(i); got < 20 {
					return false, nil
				}
			}
			return true, nil
		})
		// hang up call A while the PBX goes on sending to it
		port := legs[0].local
		legs[0].close()
		atHangup, _ := count(0)
		again, err := udpbatch.Listen(port, false)
		if err != nil {
			t.Fatalf("the hung-up call's RTP port is still taken: %v", err)
		}
		again.Close()
		before, _ := count(1)
		testenv.WaitFor(t, 10*time.Second, "call B going on", func() (bool, error) {
			got, _ := count(1)
			return got > before+20, nil
		})
		if got, _ := count(0); got != atHangup {
			t.Errorf("%d packets reached call A after its hang-up", got-atHangup)
		}
		for i := range legs {
			if got, wrong := count(i); wrong > 0 {
				t.Errorf("call %c got %d packets of other calls (of %d)", 'A'+i, wrong, got)
			}
		}
	})
}
