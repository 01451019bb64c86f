package dtlssrtp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/udpbatch"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Session is one peer's SRTP handled outside pion: RTP of the SSRC given
// to Receive is decrypted on the Conn's reader goroutine and handed to
// the handler; WriteRTP encrypts and sends on the caller's goroutine.
// RTCP and other SSRCs keep going through pion, which has contexts of its
// own for them: an SSRC must be sent by only one of the two, or the two
// would encrypt different packets under the same key and index.
type Session struct {
	conn *Conn
	peer atomic.Pointer[netip.AddrPort]

	// receive side: the Conn's reader goroutine only
	remote *srtp.Context
	rhdr   rtp.Header
	ssrc   atomic.Uint32
	anyRTP atomic.Bool // ReceiveAny: every SSRC of the peer
	on     atomic.Pointer[Handler]
	onRTCP atomic.Pointer[func([]byte)]
	rrhdr  rtcp.Header

	// send side
	mu    sync.Mutex
	local *srtp.Context
	whdr  rtp.Header

	closed atomic.Bool
}

// ErrClosed is returned by WriteRTP after Close.
var ErrClosed = errors.New("dtlssrtp: session closed")

// NewSession sets up SRTP with peer using keys. Nothing is taken off
// pion's path until Receive names an SSRC.
func (c *Conn) NewSession(peer netip.AddrPort, keys Keys) (*Session, error) {
	// replay protection as pion's own sessions have it (window 64)
	remote, err := srtp.CreateContext(keys.RemoteKey, keys.RemoteSalt, keys.Profile, srtp.SRTPReplayProtection(64))
	if err != nil {
		return nil, err
	}
	local, err := srtp.CreateContext(keys.LocalKey, keys.LocalSalt, keys.Profile)
	if err != nil {
		return nil, err
	}
	s := &Session{conn: c, remote: remote, local: local}
	peer = unmap(peer)
	s.peer.Store(&peer)
	c.sessions.store(peer, s)
	return s, nil
}

// Handler takes one decrypted RTP packet on the socket's reader
// goroutine; it must not block and must not keep pkt. out queues
// datagrams the handler sends on (udpbatch.Multi.Add), sent together at
// the end of the reader's receive batch, so no latency is added; it is
// nil where the reader has none (a Conn from NewConn or NewConnPolled):
// send at once. at is when the receive batch arrived, read once per
// batch (a clock read per packet cost as much as the relay's
// bookkeeping); zero where the reader has no batches: read the clock.
type Handler func(pkt []byte, out *udpbatch.Multi, at time.Time)

// Receive takes the peer's RTP with ssrc off pion's path: every such
// packet is decrypted in place and given to on, which runs on the
// socket's reader goroutine, must not block and must not keep pkt.
func (s *Session) Receive(ssrc uint32, on func(pkt []byte)) {
	s.ReceiveBatched(ssrc, func(pkt []byte, _ *udpbatch.Multi, _ time.Time) { on(pkt) })
}

// ReceiveBatched is Receive with a handler that may queue its sends.
func (s *Session) ReceiveBatched(ssrc uint32, on Handler) {
	s.on.Store(&on)
	s.ssrc.Store(ssrc)
}

// ReceiveAny takes all of the peer's RTP off pion's path, whatever its
// SSRC: for a lean call, where no pion stack exists and the peer sends
// one stream (its audio), whose SSRC the box learns from its packets.
func (s *Session) ReceiveAny(on func(pkt []byte)) {
	s.ReceiveAnyBatched(func(pkt []byte, _ *udpbatch.Multi, _ time.Time) { on(pkt) })
}

// ReceiveAnyBatched is ReceiveAny with a handler that may queue its sends.
func (s *Session) ReceiveAnyBatched(on Handler) {
	s.on.Store(&on)
	s.anyRTP.Store(true)
}

// ReceiveRTCP takes the peer's SRTCP off pion's path too: it is
// authenticated and decrypted in place, and given to on (nil: dropped
// once authenticated), on the reader goroutine like Receive's handler.
func (s *Session) ReceiveRTCP(on func(pkt []byte)) {
	if on == nil {
		on = func([]byte) {}
	}
	s.onRTCP.Store(&on)
}

// SetReceiveROC starts the peer's ssrc at rollover counter roc: pion
// decrypted the stream's first packets, and if the sequence numbers
// wrapped meanwhile the session must know. Call it before Receive.
func (s *Session) SetReceiveROC(ssrc, roc uint32) {
	s.remote.SetROC(ssrc, roc)
}

// SetSendROC continues a stream pion started sending: the next WriteRTP
// of ssrc uses rollover counter roc.
func (s *Session) SetSendROC(ssrc, roc uint32) {
	s.mu.Lock()
	s.local.SetROC(ssrc, roc)
	s.mu.Unlock()
}

// receive handles pkt if it is the session's RTP; false leaves it to pion.
// out is the reader's send batch, nil where it has none; at its arrival.
func (s *Session) receive(pkt []byte, out *udpbatch.Multi, at time.Time) bool {
	if len(pkt) >= 8 && pkt[1] >= 192 && pkt[1] <= 223 { // RTCP (RFC 5761 section 4)
		return s.receiveRTCP(pkt)
	}
	if len(pkt) < 12 || s.closed.Load() {
		return false
	}
	if want := s.ssrc.Load(); !s.anyRTP.Load() && (want == 0 || binary.BigEndian.Uint32(pkt[8:12]) != want) {
		return false
	}
	plain, err := s.remote.DecryptRTP(pkt, pkt, &s.rhdr)
	if err != nil {
		s.conn.Rejected.Add(1)
		return true
	}
	s.conn.Fast.Add(1)
	(*s.on.Load())(plain, out, at)
	return true
}

// receiveRTCP handles the peer's SRTCP if ReceiveRTCP asked for it.
func (s *Session) receiveRTCP(pkt []byte) bool {
	on := s.onRTCP.Load()
	if on == nil || s.closed.Load() {
		return false
	}
	plain, err := s.remote.DecryptRTCP(pkt, pkt, &s.rrhdr)
	if err != nil {
		s.conn.Rejected.Add(1)
		return true
	}
	(*on)(plain)
	return true
}

// WriteRTCP encrypts one compound RTCP packet and sends it to the peer
// (a lean call's reports: no pion stack sends them).
func (s *Session) WriteRTCP(pkt []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return 0, ErrClosed
	}
	buf := sealBufs.Get().(*[]byte)
	defer sealBufs.Put(buf)
	enc, err := s.local.EncryptRTCP((*buf)[:0], pkt, nil)
	if err != nil {
		return 0, err
	}
	return s.conn.out.WriteToUDPAddrPort(enc, *s.peer.Load())
}

// sealBufs are WriteRTP's and WriteRTCP's buffers: shared, not one per
// session, since a relayed session seals into its reader's batch
// (Seal) and writes here only now and then (reports), and an idle call
// should not hold 1.5 KB for it.
var sealBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1500); return &b }}

// WriteRTP encrypts one RTP packet and sends it to the peer.
func (s *Session) WriteRTP(pkt []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := sealBufs.Get().(*[]byte)
	defer sealBufs.Put(buf)
	enc, to, err := s.sealLocked((*buf)[:0], pkt)
	if err != nil {
		return 0, err
	}
	return s.conn.out.WriteToUDPAddrPort(enc, to)
}

// WriteRTPVia is WriteRTP with the send queued in out (sent at its
// Flush, with the other sessions' in one system call) where the Conn's
// socket is a udpbatch.Socket; otherwise, or with out nil, it sends at
// once. A load generator's pacer sends one packet for each of many
// calls, each from its own socket, per tick: one sendto each before.
func (s *Session) WriteRTPVia(pkt []byte, out *udpbatch.Multi) (int, error) {
	u, ok := s.conn.out.(*udpbatch.Socket)
	if out == nil || !ok {
		return s.WriteRTP(pkt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := sealBufs.Get().(*[]byte)
	defer sealBufs.Put(buf)
	enc, to, err := s.sealLocked((*buf)[:0], pkt)
	if err != nil {
		return 0, err
	}
	if err := out.Add(u, enc, to); err != nil {
		return 0, err
	}
	return len(enc), nil
}

// Seal encrypts one RTP packet into dst (which needs room for the
// authentication tag) for sending with Conn.Send, and tells where to.
func (s *Session) Seal(dst, pkt []byte) ([]byte, netip.AddrPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked(dst, pkt)
}

func (s *Session) sealLocked(dst, pkt []byte) ([]byte, netip.AddrPort, error) {
	if s.closed.Load() {
		return nil, netip.AddrPort{}, ErrClosed
	}
	enc, err := s.local.EncryptRTP(dst, pkt, &s.whdr)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	s.conn.Fast.Add(1)
	return enc, *s.peer.Load(), nil
}

// Peer is where the session's packets go.
func (s *Session) Peer() netip.AddrPort { return *s.peer.Load() }

// SetPeer moves the session to a new address (ICE chose another pair).
func (s *Session) SetPeer(peer netip.AddrPort) {
	peer = unmap(peer)
	old := s.peer.Swap(&peer)
	if *old == peer {
		return
	}
	s.conn.sessions.store(peer, s)
	s.conn.sessions.compareAndDelete(*old, s)
}

// Close gives the peer's packets back to pion and stops WriteRTP.
func (s *Session) Close() {
	s.mu.Lock()
	s.closed.Store(true)
	s.mu.Unlock()
	s.ssrc.Store(0)
	s.anyRTP.Store(false)
	s.conn.sessions.compareAndDelete(*s.peer.Load(), s)
}
