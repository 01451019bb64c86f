package dtlssrtp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/transport/v5/deadline"
)

// The lean call's DTLS handshake (RFC 5764) runs over the shared port
// with pion/dtls, without a PeerConnection: the Conn's reader hands the
// peer's DTLS records to a peerConn, the handshake's own packet
// connection; the keys it yields open a Session for the media.

// Accept answers peer's DTLS handshake as the server and returns the
// call's SRTP Session and the DTLS connection (close it when the call
// ends: it answers the peer's retransmissions meanwhile). opts must check
// the peer's certificate against the fingerprint of its offer
// (dtls.WithVerifyPeerCertificate); the key log is added here.
func (c *Conn) Accept(ctx context.Context, peer netip.AddrPort, opts ...dtls.ServerOption) (*Session, *dtls.Conn, error) {
	peer = unmap(peer)
	v, _ := c.dtlsPeers.LoadOrStore(peer, newPeerConn(c, peer))
	pc := v.(*peerConn)
	if !pc.taken.CompareAndSwap(false, true) {
		return nil, nil, errors.New("a DTLS handshake with this address is already under way")
	}
	opts = append(opts, dtls.WithKeyLogWriter(c.keys))
	d, err := dtls.ServerWithOptions(pc, net.UDPAddrFromAddrPort(peer), opts...)
	if err == nil {
		err = d.HandshakeContext(ctx)
	}
	if err != nil {
		if d != nil {
			d.Close()
		}
		pc.Close()
		return nil, nil, err
	}
	keys, err := c.keys.KeysFor(peer)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	s, err := c.NewSession(peer, keys)
	if err != nil {
		d.Close()
		return nil, nil, err
	}
	return s, d, nil
}

// Expect keeps peer's DTLS records for a coming Accept: the browser
// starts its handshake as soon as its check is answered, before the
// goroutine that calls Accept may run. Call it from the Lite callback of
// the nominating check (which runs before the check is answered).
func (c *Conn) Expect(peer netip.AddrPort) {
	peer = unmap(peer)
	if _, ok := c.dtlsPeers.Load(peer); !ok {
		c.dtlsPeers.LoadOrStore(peer, newPeerConn(c, peer))
	}
}

// Forget ends peer's lean DTLS without a word to the peer: its records
// stop going to the handshake (to pion, which drops them), then d (from
// Accept; nil when none ran) is closed, its close_notify unsent. A
// browser that got the keys keeps its DTLS up, and the call its media,
// with no goroutine of the handshake left.
func (c *Conn) Forget(peer netip.AddrPort, d *dtls.Conn) {
	if v, ok := c.dtlsPeers.Load(unmap(peer)); ok {
		v.(*peerConn).Close()
	}
	if d != nil {
		d.Close()
	}
}

func newPeerConn(c *Conn, peer netip.AddrPort) *peerConn {
	return &peerConn{c: c, peer: peer, in: make(chan []byte, 16), closed: make(chan struct{}), dl: deadline.New()}
}

// dtlsFor hands a DTLS record to the handshake with from, if one runs
// on the lean path.
func (c *Conn) dtlsFor(pkt []byte, from netip.AddrPort) bool {
	p, ok := c.dtlsPeers.Load(unmap(from))
	if !ok {
		return false
	}
	pc := p.(*peerConn)
	select {
	case pc.in <- append([]byte(nil), pkt...):
	case <-pc.closed:
	default: // the handshake is behind: dropped, DTLS retransmits
	}
	return true
}

// peerConn is the shared port as one peer's DTLS sees it.
type peerConn struct {
	c      *Conn
	peer   netip.AddrPort
	in     chan []byte
	closed chan struct{}
	once   sync.Once
	taken  atomic.Bool // by an Accept
	// a deadline set while ReadFrom waits wakes it (pion's netctx)
	dl *deadline.Deadline
}

func (p *peerConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case pkt := <-p.in:
		return copy(b, pkt), net.UDPAddrFromAddrPort(p.peer), nil
	case <-p.closed:
		return 0, nil, net.ErrClosed
	case <-p.dl.Done():
		return 0, nil, timeoutError{}
	}
}

func (p *peerConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	select {
	case <-p.closed:
		return 0, net.ErrClosed
	default:
	}
	return p.c.WriteToAddrPort(b, p.peer)
}

// Close ends the peer's lean DTLS: its records go to pion again.
func (p *peerConn) Close() error {
	p.once.Do(func() {
		close(p.closed)
		p.c.dtlsPeers.CompareAndDelete(p.peer, p)
	})
	return nil
}

func (p *peerConn) LocalAddr() net.Addr { return p.c.local }

func (p *peerConn) SetDeadline(t time.Time) error { return p.SetReadDeadline(t) }

func (p *peerConn) SetReadDeadline(t time.Time) error {
	p.dl.Set(t)
	return nil
}

func (p *peerConn) SetWriteDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "dtlssrtp: read timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
