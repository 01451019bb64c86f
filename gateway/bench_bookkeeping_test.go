package gateway

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRelayBookkeeping is the relay's own work on a browser packet
// toward the PBX, without the send (no address to send to): the stream
// statistics and the header rewrite, for many calls in turn, so that
// their state is cold in the cache as in the gateway at 1000 calls.
func BenchmarkRelayBookkeeping(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("calls=%d", n), func(b *testing.B) {
			pt := newPTMap()
			pt[0] = 0
			senders := make([]*pbxSender, n)
			ins := make([]*streamStats, n)
			for i := range n {
				senders[i] = &pbxSender{ssrc: uint32(i), pt: pt, tePT: -1, stats: &streamStats{}}
				ins[i] = &streamStats{clock: 8000}
			}
			pkt := make([]byte, 12+160)
			pkt[0] = 0x80
			b.ReportAllocs()
			for op := 0; b.Loop(); op++ {
				i := op % n
				binary.BigEndian.PutUint16(pkt[2:], uint16(op/n))
				binary.BigEndian.PutUint32(pkt[4:], uint32(op/n*160))
				seq, ts := rtpSeqTS(pkt)
				ins[i].countReceived(len(pkt), seq, ts, time.Now())
				if err := senders[i].relay(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRelayFromPBXBookkeeping is the PBX leg's poller's work on a
// packet before the encryption (source check, payload type, statistics,
// renumbering), for 1000 calls in turn, in rounds of 64 packets as the
// poller reads them; the browser leg is not up, so nothing is sent.
func BenchmarkRelayFromPBXBookkeeping(b *testing.B) {
	const n, round = 1000, 64
	poller := newPBXPoller()
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	relays := make([]*fromPBX, n)
	for i := range n {
		pt := newPTMap()
		pt[0] = 0
		leg := &pbxLeg{poller: poller, remote: from, toBrowser: pt, teBrowser: -1}
		leg.recv.clock = 8000
		relays[i] = &fromPBX{c: &call{}, leg: leg, track: &atomic.Pointer[relayTrack]{}, out: &streamStats{}, audio: true}
	}
	pkt := make([]byte, 12+160)
	b.ReportAllocs()
	for op := 0; b.Loop(); op++ {
		i := op % n
		pkt[0], pkt[1] = 0x80, 0
		binary.BigEndian.PutUint16(pkt[2:], uint16(op/n))
		binary.BigEndian.PutUint32(pkt[4:], uint32(op/n*160))
		binary.BigEndian.PutUint32(pkt[8:], uint32(i))
		relays[i].packet(pkt, from)
		if op%round == round-1 {
			poller.endRound()
		}
	}
}

// BenchmarkRelayFromBrowserBookkeeping is the ICE port's reader's work
// on a decrypted browser packet (statistics, header rewrite) for 1000
// calls in turn, in receive batches of 32; nothing is sent.
func BenchmarkRelayFromBrowserBookkeeping(b *testing.B) {
	const n, batch = 1000, 32
	calls := make([]*call, n)
	for i := range n {
		pt := newPTMap()
		pt[0] = 0
		c := &call{pbx: &pbxLeg{}}
		c.pbx.send = pbxSender{ssrc: uint32(i), pt: pt, tePT: -1, stats: &streamStats{}}
		c.browserIn.clock = 8000
		calls[i] = c
	}
	pkt := make([]byte, 12+160)
	var at time.Time
	b.ReportAllocs()
	for op := 0; b.Loop(); op++ {
		if op%batch == 0 {
			at = time.Now() // the reader's, once per receive batch
		}
		i := op % n
		pkt[0], pkt[1] = 0x80, 0
		binary.BigEndian.PutUint16(pkt[2:], uint16(op/n))
		binary.BigEndian.PutUint32(pkt[4:], uint32(op/n*160))
		fromBrowserForBench(calls[i], pkt, at)
	}
}
