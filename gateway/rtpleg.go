package gateway

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/rtcp"
)

// portPool hands out RTP/RTCP port pairs (even RTP port, RTCP on the next)
// from the configured range.
type portPool struct {
	// pollers read the legs' RTP and RTCP, one per CPU as the ICE
	// port's readers are: a leg stays on the one its port picks
	pollers  []*pbxPoller
	mu       sync.Mutex
	min, max int
	next     int
	used     map[int]bool
}

func newPortPool(lo, hi int) *portPool {
	if lo%2 == 1 {
		lo++
	}
	p := &portPool{min: lo, max: hi, next: lo, used: map[int]bool{}}
	for range max(1, runtime.GOMAXPROCS(0)) {
		p.pollers = append(p.pollers, newPBXPoller())
	}
	return p
}

// setRange applies a new range; pairs in use stay until released.
func (p *portPool) setRange(lo, hi int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if lo%2 == 1 {
		lo++
	}
	p.min, p.max, p.next = lo, hi, lo
}

// open binds a free pair on ip.
func (p *portPool) open(ip netip.Addr) (rtpConn, rtcpConn *udpbatch.Socket, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := (p.max - p.min + 1) / 2
	for i := 0; i < n; i++ {
		port := p.next
		p.next += 2
		if p.next+1 > p.max {
			p.next = p.min
		}
		if p.used[port] {
			continue
		}
		a, err := udpbatch.Listen(netip.AddrPortFrom(ip, uint16(port)), false)
		if err != nil {
			continue
		}
		b, err := udpbatch.Listen(netip.AddrPortFrom(ip, uint16(port+1)), false)
		if err != nil {
			a.Close()
			continue
		}
		setSockBuf(a, rtpSockBuf)
		p.used[port] = true
		return a, b, nil
	}
	return nil, nil, fmt.Errorf("no free RTP port pair in %d..%d", p.min, p.max)
}

func (p *portPool) release(port int) {
	p.mu.Lock()
	delete(p.used, port)
	p.mu.Unlock()
}

func (p *portPool) inUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.used)
}

// pbxLeg is the plain RTP side of a call.
type pbxLeg struct {
	pool   *portPool
	poller *pbxPoller       // one of the pool's
	rtp    *udpbatch.Socket // read by poller
	rtcp   *udpbatch.Socket // read by poller
	local  netip.AddrPort
	send   pbxSender
	recv   streamStats // PBX -> box
	remote netip.AddrPort
	rtcpTo netip.AddrPort
	// PBX -> browser payload types; teBrowser is telephone-event's, -1 none
	toBrowser ptMap
	teBrowser int16
	// remoteSSRC is the SSRC of the PBX's stream (for keyframe requests)
	remoteSSRC uint32
	// onPLI, set before readRTCP, passes the PBX's keyframe requests on
	onPLI func()
	// symmetric RTP (rtplatch.go): heard says a packet came from remote
	// itself; strange says media from another address was reported
	heard, strange bool
	prev           netip.AddrPort // remote before the last apply
	sdp            netip.AddrPort // the address the PBX's SDP names
	// the same for RTCP (fromRemoteRTCP): rtcpSDP is the address the SDP
	// names for it, rtcpHeard that a report came from rtcpTo itself,
	// rtcpStrange that RTCP from another address was reported
	rtcpSDP                netip.AddrPort
	rtcpHeard, rtcpStrange bool
	// warn, set before poll, tells the PBX admin about its media's source
	warn func(msg string, args ...any)
	// RTCP reports the PBX sent about our stream
	mu           sync.Mutex
	remoteLost   uint32
	remoteJitter uint32
	closeOnce    sync.Once
	polled       *udpbatch.Polled
	polledRTCP   *udpbatch.Polled
}

// poll hands the leg's RTP to on, on the leg's poller, until close.
func (l *pbxLeg) poll(on func(pkt []byte, from netip.AddrPort)) error {
	return l.watch(l.rtp, on, &l.polled)
}

// watch registers sock with the leg's poller; into keeps the
// registration for close.
func (l *pbxLeg) watch(sock *udpbatch.Socket, on func(pkt []byte, from netip.AddrPort), into **udpbatch.Polled) error {
	s, err := l.poller.Add(sock, on)
	if err != nil {
		return err
	}
	l.mu.Lock()
	*into = s
	l.mu.Unlock()
	return nil
}

func randUint32() uint32 {
	var b [4]byte
	rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func openPBXLeg(pool *portPool, ip netip.Addr) (*pbxLeg, error) {
	a, b, err := pool.open(ip)
	if err != nil {
		return nil, err
	}
	port := int(a.LocalAddr().Port())
	l := &pbxLeg{pool: pool, rtp: a, rtcp: b, local: a.LocalAddr(), poller: pool.pollers[port/2%len(pool.pollers)]}
	l.send.conn = a
	l.send.ssrc = randUint32()
	l.send.pt = newPTMap()
	l.send.tePT = -1
	l.send.stats = &streamStats{}
	return l, nil
}

// apply points the leg at the PBX's media address for plan.
func (l *pbxLeg) apply(plan *bridgePlan) {
	toPBX := newPTMap()
	toPBX[plan.Browser.PT] = int16(plan.PBXPT)
	te := int16(-1)
	if plan.TE != nil {
		toPBX[plan.TE.PT] = int16(plan.PBXTEPT)
		te = int16(plan.PBXTEPT)
	}
	toBrowser := newPTMap()
	toBrowser[plan.PBXPT] = int16(plan.Browser.PT)
	teBrowser := int16(-1)
	if plan.TE != nil {
		toBrowser[plan.PBXTEPT] = int16(plan.TE.PT)
		teBrowser = int16(plan.TE.PT)
	}
	l.mu.Lock()
	if plan.Remote != l.sdp {
		// a new media address; the same one again (a session refresh)
		// keeps what symmetric RTP learnt
		l.prev, l.heard = l.remote, false
		l.sdp, l.remote = plan.Remote, plan.Remote
	}
	remote := l.remote
	if plan.RemoteRTCP != l.rtcpSDP {
		l.rtcpSDP, l.rtcpTo, l.rtcpHeard = plan.RemoteRTCP, plan.RemoteRTCP, false
	}
	l.toBrowser, l.teBrowser = toBrowser, teBrowser
	l.mu.Unlock()
	l.send.mu.Lock()
	l.send.tePT, l.send.teClock = te, plan.Browser.Clock
	l.send.mu.Unlock()
	l.send.setRemote(remote, toPBX)
	if l.recv.clock == 0 {
		// set once, before the receiving goroutine starts: the bridged
		// codec never changes during a call
		l.recv.clock = float64(plan.Browser.Clock)
	}
}

func (l *pbxLeg) close() {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		polled, polledRTCP := l.polled, l.polledRTCP
		l.mu.Unlock()
		for _, s := range []*udpbatch.Polled{polled, polledRTCP} {
			if s != nil {
				l.poller.Remove(s)
			}
		}
		port := int(l.local.Port())
		l.rtp.Close()
		l.rtcp.Close()
		l.pool.release(port)
	})
}

// forBrowser checks a packet from src and maps it for the browser leg in
// place; it returns the browser payload type (-1: drop) and whether it is
// telephone-event.
func (l *pbxLeg) forBrowser(pkt []byte, src netip.AddrPort) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.fromRemote(src) {
		return -1, false
	}
	out := browserRewrite(pkt, &l.toBrowser)
	if out >= 0 {
		l.remoteSSRC = uint32(pkt[8])<<24 | uint32(pkt[9])<<16 | uint32(pkt[10])<<8 | uint32(pkt[11])
	}
	return out, out >= 0 && int16(out) == l.teBrowser
}

// readRTCP terminates the PBX's RTCP toward the leg: the leg's poller
// reads the PBX's reports until the leg closes. The leg's own reports go
// out from the call's report loop (sendReport).
func (l *pbxLeg) readRTCP() error {
	return l.watch(l.rtcp, l.onRTCP, &l.polledRTCP)
}

// onRTCP takes one RTCP packet from the PBX (on the poller goroutine).
func (l *pbxLeg) onRTCP(b []byte, src netip.AddrPort) {
	l.mu.Lock()
	ok := l.fromRemoteRTCP(src)
	l.mu.Unlock()
	if !ok {
		return
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	for _, p := range pkts {
		var reports []rtcp.ReceptionReport
		switch r := p.(type) {
		case *rtcp.ReceiverReport:
			reports = r.Reports
		case *rtcp.SenderReport:
			reports = r.Reports
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			if l.onPLI != nil {
				l.onPLI()
			}
		}
		for _, rr := range reports {
			if rr.SSRC == l.send.ssrc {
				l.mu.Lock()
				l.remoteLost, l.remoteJitter = rr.TotalLost, rr.Jitter
				l.mu.Unlock()
			}
		}
	}
}

// sendReport sends the leg's sender report to the PBX; false once the
// leg is closed.
func (l *pbxLeg) sendReport() bool {
	l.mu.Lock()
	to := l.rtcpTo
	l.mu.Unlock()
	if !sendableRTCP(to) {
		return true
	}
	l.send.mu.Lock()
	ts := l.send.ts
	l.send.mu.Unlock()
	sr := &rtcp.SenderReport{
		SSRC:        l.send.ssrc,
		NTPTime:     ntpTime(time.Now()),
		RTPTime:     ts,
		PacketCount: uint32(l.send.stats.packets.Load()),
		OctetCount:  uint32(l.send.stats.bytes.Load()),
	}
	b, err := sr.Marshal()
	if err != nil {
		return true
	}
	_, err = l.rtcp.WriteToUDPAddrPort(b, to)
	return !errors.Is(err, net.ErrClosed)
}

// sendableRTCP says whether the box may send RTCP to to: not before the
// PBX's SDP, and not while it holds with c=0.0.0.0 (or names port 0),
// where nothing is sent: Linux delivers 0.0.0.0 to the box itself.
func sendableRTCP(to netip.AddrPort) bool {
	return to.IsValid() && !to.Addr().IsUnspecified() && to.Port() != 0
}

func ntpTime(t time.Time) uint64 {
	s := uint64(t.Unix()) + 2208988800
	f := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return s<<32 | f
}

// sendPLI asks the PBX for a keyframe of the stream it sends us.
func (l *pbxLeg) sendPLI() {
	l.mu.Lock()
	to := l.rtcpTo
	media := l.remoteSSRC
	l.mu.Unlock()
	if !sendableRTCP(to) {
		return
	}
	b, err := (&rtcp.PictureLossIndication{SenderSSRC: l.send.ssrc, MediaSSRC: media}).Marshal()
	if err == nil {
		l.rtcp.WriteToUDPAddrPort(b, to)
	}
}
