package web

import (
	"net"
	"sync"
	"time"
)

// The plain-HTTP port also answers HTTPS: a connection that opens with a
// TLS handshake record goes to the HTTPS server. The start page then
// links to https:// on the very host and port the browser used, which
// is right even behind port forwarding (make run's QEMU forwards some
// host port to 80), where the box cannot know the outside HTTPS port.

const tlsHandshake = 0x16 // first byte of a TLS record carrying a ClientHello

// splitTLS serves l's connections as two listeners: plain HTTP and TLS.
// Closing plain closes l.
func splitTLS(l net.Listener) (plain, tlsConns net.Listener) {
	p := newConnQueue(l.Addr(), l.Close)
	t := newConnQueue(l.Addr(), func() error { return nil })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				p.Close()
				t.Close()
				return
			}
			go func() {
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				b := make([]byte, 1)
				n, err := c.Read(b)
				c.SetReadDeadline(time.Time{})
				if err != nil || n == 0 {
					c.Close()
					return
				}
				pc := &peekedConn{Conn: c, first: b[:n]}
				if b[0] == tlsHandshake {
					t.put(pc)
				} else {
					p.put(pc)
				}
			}()
		}
	}()
	return p, t
}

// peekedConn gives back the byte read to classify it.
type peekedConn struct {
	net.Conn
	first []byte
}

func (c *peekedConn) Read(b []byte) (int, error) {
	if len(c.first) > 0 {
		n := copy(b, c.first)
		c.first = c.first[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// ingress is the arrival interface of the wrapped connection.
func (c *peekedConn) ingress() (string, bool) {
	if ic, ok := c.Conn.(ingressConn); ok {
		return ic.iface, true
	}
	return "", false
}

// connQueue is a net.Listener fed by put.
type connQueue struct {
	addr    net.Addr
	onClose func() error
	ch      chan net.Conn
	done    chan struct{}
	once    sync.Once
}

func newConnQueue(addr net.Addr, onClose func() error) *connQueue {
	return &connQueue{addr: addr, onClose: onClose, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) put(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	var err error
	q.once.Do(func() {
		close(q.done)
		err = q.onClose()
	})
	return err
}

func (q *connQueue) Addr() net.Addr { return q.addr }
