package dtlssrtp

import (
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"edgebox/internal/udpbatch"
)

// Conn is the UDP socket shared by every ICE session (give it to
// ice.NewUDPMuxDefault). Its reader, the mux's one goroutine, hands the
// SRTP of sessions opened with NewSession straight to their handlers and
// everything else to pion; both directions feed the Keyring with the
// DTLS hellos.
type Conn struct {
	local net.Addr
	out   sender // where packets are sent from
	keys  *Keyring
	// src is where pion's packets come from: one socket pion's mux reads
	// (NewConn), or a group of sockets with readers of their own or a
	// shared poller (NewConnGroup, NewConnPolled), whose packets for pion
	// are queued
	src packetSource
	// sessions by peer address: read per packet without a lock
	sessions sessionTable

	rc syscall.RawConn // of out

	// lite answers connectivity checks of lean calls (icelite.go); set
	// while the readers run
	lite atomic.Pointer[Lite]
	// lean calls' DTLS handshakes by peer address (lean.go)
	dtlsPeers sync.Map // netip.AddrPort -> *peerConn

	// Fast counts packets handled here instead of by pion.
	Fast atomic.Uint64
	// Rejected counts packets of a session that failed authentication or
	// replay checks (dropped).
	Rejected atomic.Uint64
}

// packetSource is how a Conn receives: read returns the next packet that
// is pion's; deadlines apply where a read can wait on them.
type packetSource interface {
	read(c *Conn, b []byte) (int, netip.AddrPort, error)
	setDeadline(read, write bool, t time.Time) error
	close() error
}

// oneSocket is NewConn's source: pion's mux reads the socket itself, and
// the Conn claims the sessions' SRTP on the way.
type oneSocket struct{ u *net.UDPConn }

func (o oneSocket) read(c *Conn, b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := o.u.ReadFromUDPAddrPort(b)
		if err != nil || n == 0 {
			return n, from, err
		}
		if !c.claim(b[:n], from, nil) {
			return n, from, nil
		}
	}
}

func (o oneSocket) setDeadline(read, write bool, t time.Time) error {
	switch {
	case read && write:
		return o.u.SetDeadline(t)
	case read:
		return o.u.SetReadDeadline(t)
	default:
		return o.u.SetWriteDeadline(t)
	}
}

func (o oneSocket) close() error { return o.u.Close() }

// queued is the source of a group of sockets read elsewhere (a reader
// goroutine each, or a poller): what no session claims is queued for pion.
type queued struct {
	socks  []*udpbatch.Socket
	slow   chan slowPacket
	closed chan struct{}
	once   sync.Once
	// NewConnPolled: the poller reading the socket
	poller *udpbatch.Poller
	polled *udpbatch.Polled
}

func (q *queued) read(c *Conn, b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-q.slow:
		return copy(b, p.b), p.from, nil
	case <-q.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

// Deadlines: the readers never stop for them, so they are accepted and
// ignored.
func (q *queued) setDeadline(bool, bool, time.Time) error { return nil }

func (q *queued) close() error {
	q.once.Do(func() { close(q.closed) })
	if q.polled != nil {
		q.poller.Remove(q.polled) // no packet is being handled once it returns
	}
	var err error
	for _, u := range q.socks {
		if e := u.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// sender is the socket a Conn sends from.
type sender interface {
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
	SyscallConn() (syscall.RawConn, error)
}

type slowPacket struct {
	b    []byte
	from netip.AddrPort
}

// NewConn wraps c; keys learns the handshakes.
func NewConn(c *net.UDPConn, keys *Keyring) *Conn {
	rc, _ := c.SyscallConn() // never fails for a *net.UDPConn
	return &Conn{src: oneSocket{c}, local: c.LocalAddr(), out: c, rc: rc, keys: keys}
}

// NewConnGroup wraps sockets bound to one address with SO_REUSEPORT
// (ListenGroup). The kernel spreads the peers over the sockets by
// address, so a peer's packets always meet the same reader: with one
// reader per socket, sessions are handled on several cores at once. The
// sockets stay out of Go's netpoller (udpbatch.Socket).
func NewConnGroup(socks []*udpbatch.Socket, keys *Keyring) *Conn {
	rc, _ := socks[0].SyscallConn()
	c := &Conn{local: net.UDPAddrFromAddrPort(socks[0].LocalAddr()), out: socks[0], rc: rc, keys: keys,
		src: &queued{socks: socks, slow: make(chan slowPacket, 4096), closed: make(chan struct{})}}
	for _, u := range socks {
		go c.readGroup(u)
	}
	return c
}

// NewConnPolled wraps one socket that p reads, with the sockets of many
// other Conns: no goroutine of its own waits for its packets (a load
// generator's thousand calls, each with its own address). Handlers run
// on p's goroutine, so they must not Close the Conn.
func NewConnPolled(sock *udpbatch.Socket, keys *Keyring, p *udpbatch.Poller) (*Conn, error) {
	rc, _ := sock.SyscallConn()
	q := &queued{socks: []*udpbatch.Socket{sock}, slow: make(chan slowPacket, 64), closed: make(chan struct{}), poller: p}
	c := &Conn{local: net.UDPAddrFromAddrPort(sock.LocalAddr()), out: sock, rc: rc, keys: keys, src: q}
	polled, err := p.Add(sock, c.deliver)
	if err != nil {
		return nil, err
	}
	q.polled = polled
	return c, nil
}

// readGroup is the reader of one socket of a group: many datagrams per
// system call (recvmmsg), SRTP handled in place.
func (c *Conn) readGroup(u *udpbatch.Socket) {
	b := udpbatch.New(64, 1500)
	// what the sessions' handlers send on (toward a PBX, from a socket
	// per call) goes out in one system call per receive batch
	out := udpbatch.NewMulti(b.Cap(), 1500)
	defer out.Close()
	for {
		if err := u.Recv(b); err != nil {
			return
		}
		at := time.Now() // the batch's arrival, for the handlers
		for i := range b.N {
			pkt, from := b.Packet(i)
			c.deliverVia(pkt, from, out, at)
		}
		out.Flush()
	}
}

// deliver takes one received datagram: to its session, or queued for
// pion (a copy: pkt is the reader's buffer).
func (c *Conn) deliver(pkt []byte, from netip.AddrPort) {
	c.deliverVia(pkt, from, nil, time.Time{})
}

// deliverVia is deliver where the sessions' handlers may queue their
// sends in out (nil: they send at once); at is when pkt arrived.
func (c *Conn) deliverVia(pkt []byte, from netip.AddrPort, out *udpbatch.Multi, at time.Time) {
	if len(pkt) == 0 || c.claimAt(pkt, from, out, at) {
		return
	}
	select {
	case c.src.(*queued).slow <- slowPacket{b: append([]byte(nil), pkt...), from: from}:
	default: // pion is behind: drop, like a full socket buffer would
	}
}

// Send sends a batch of datagrams (Session.Seal) from the Conn's socket.
func (c *Conn) Send(b *udpbatch.Batch) error {
	return b.Send(c.rc)
}

// ReadFromAddrPort returns the next packet that is pion's to handle.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.src.read(c, b)
}

// claim hands pkt to its session if it is one's SRTP, and learns from
// DTLS hellos; false leaves the packet to pion. out is the reader's send
// batch for the session's handler (nil: none).
func (c *Conn) claim(pkt []byte, from netip.AddrPort, out *udpbatch.Multi) bool {
	return c.claimAt(pkt, from, out, time.Time{})
}

// claimAt is claim with the arrival time of pkt's receive batch for the
// session's handler (zero: none).
func (c *Conn) claimAt(pkt []byte, from netip.AddrPort, out *udpbatch.Multi, at time.Time) bool {
	// RFC 7983 demultiplexing by the first byte
	switch b0 := pkt[0]; {
	case b0 >= 128 && b0 <= 191:
		if s, ok := c.sessions.load(unmap(from)); ok && s.receive(pkt, out, at) {
			return true
		}
	case b0 >= 20 && b0 <= 63:
		c.keys.observe(from, pkt, false)
		return c.dtlsFor(pkt, from)
	case b0 <= 3:
		return c.lite.Load().answer(c, pkt, from)
	}
	return false
}

// WriteToAddrPort sends pion's packets.
func (c *Conn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if len(b) > 0 && b[0] >= 20 && b[0] <= 63 {
		c.keys.observe(to, b, true)
	}
	return c.out.WriteToUDPAddrPort(b, to)
}

// ReadFrom is ReadFromAddrPort for net.PacketConn users.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteTo is WriteToAddrPort for net.PacketConn users.
func (c *Conn) WriteTo(b []byte, to net.Addr) (int, error) {
	switch a := to.(type) {
	case *net.UDPAddr:
		return c.WriteToAddrPort(b, a.AddrPort())
	default:
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: to, Err: net.UnknownNetworkError(to.Network())}
	}
}

// Close closes the socket(s).
func (c *Conn) Close() error { return c.src.close() }

// LocalAddr is the address the Conn is bound to (a *net.UDPAddr).
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Deadlines apply to a single socket; a group's readers never stop for
// them, so they are accepted and ignored there.
func (c *Conn) SetDeadline(t time.Time) error { return c.src.setDeadline(true, true, t) }

func (c *Conn) SetReadDeadline(t time.Time) error { return c.src.setDeadline(true, false, t) }

func (c *Conn) SetWriteDeadline(t time.Time) error { return c.src.setDeadline(false, true, t) }

// Keyring is where the handshakes are learnt.
func (c *Conn) Keyring() *Keyring { return c.keys }

// ListenGroup binds n sockets to addr with SO_REUSEPORT (for
// NewConnGroup); n < 1 means one per CPU the Go scheduler uses. An
// unspecified IPv4 address binds dual-stack, as Go's "udp" would.
func ListenGroup(addr netip.AddrPort, n int) ([]*udpbatch.Socket, error) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	if addr.Addr() == netip.IPv4Unspecified() {
		addr = netip.AddrPortFrom(netip.IPv6Unspecified(), addr.Port())
	}
	var socks []*udpbatch.Socket
	for i := range n {
		if i > 0 {
			// the rest join the first one's port (it may have been 0)
			addr = socks[0].LocalAddr()
		}
		s, err := udpbatch.Listen(addr, true)
		if err != nil {
			for _, s := range socks {
				s.Close()
			}
			return nil, err
		}
		socks = append(socks, s)
	}
	return socks, nil
}
