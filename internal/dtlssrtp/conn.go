package dtlssrtp

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is the UDP socket shared by every ICE session (give it to
// ice.NewUDPMuxDefault). Its reader, the mux's one goroutine, hands the
// SRTP of sessions opened with NewSession straight to their handlers and
// everything else to pion; both directions feed the Keyring with the
// DTLS hellos.
type Conn struct {
	conn *net.UDPConn
	keys *Keyring
	// sessions by peer address: read per packet without a lock
	sessions sync.Map // netip.AddrPort -> *Session

	// Fast counts packets handled here instead of by pion.
	Fast atomic.Uint64
	// Rejected counts packets of a session that failed authentication or
	// replay checks (dropped).
	Rejected atomic.Uint64
}

// NewConn wraps c; keys learns the handshakes.
func NewConn(c *net.UDPConn, keys *Keyring) *Conn {
	return &Conn{conn: c, keys: keys}
}

// ReadFromAddrPort returns the next packet that is pion's to handle.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := c.conn.ReadFromUDPAddrPort(b)
		if err != nil || n == 0 {
			return n, from, err
		}
		// RFC 7983 demultiplexing by the first byte
		switch b0 := b[0]; {
		case b0 >= 128 && b0 <= 191:
			if s, ok := c.sessions.Load(unmap(from)); ok && s.(*Session).receive(b[:n]) {
				continue
			}
		case b0 >= 20 && b0 <= 63:
			c.keys.observe(from, b[:n], false)
		}
		return n, from, nil
	}
}

// WriteToAddrPort sends pion's packets.
func (c *Conn) WriteToAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if len(b) > 0 && b[0] >= 20 && b[0] <= 63 {
		c.keys.observe(to, b, true)
	}
	return c.conn.WriteToUDPAddrPort(b, to)
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
		return c.conn.WriteTo(b, to)
	}
}

func (c *Conn) Close() error                       { return c.conn.Close() }
func (c *Conn) LocalAddr() net.Addr                { return c.conn.LocalAddr() }
func (c *Conn) SetDeadline(t time.Time) error      { return c.conn.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.conn.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// UDPConn is the wrapped socket (socket options, local address).
func (c *Conn) UDPConn() *net.UDPConn { return c.conn }

// Keyring is where the handshakes are learnt.
func (c *Conn) Keyring() *Keyring { return c.keys }
