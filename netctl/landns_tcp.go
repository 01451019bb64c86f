package netctl

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"
)

// DNS over TCP (RFC 7766): an answer too big for UDP (a long TXT or
// SRV list, DNSSEC, many A records) comes back truncated, and the client
// asks again over TCP. The forwarder answered UDP only, so such a name
// did not resolve at all on the LAN (or for the box itself through
// 127.0.0.53). Over TCP it asks the upstream servers over TCP too: their
// UDP answer would be truncated again.
//
// Bounded like the UDP side: a client holds at most
// maxDNSTCPConnsPerClient connections and all at most maxDNSTCPConns,
// each waits at most dnsTCPIdle for a query (and a slow reader is cut
// after dnsTCPWrite), answers at most dnsTCPQueriesPerConn queries, and
// each forwarded query takes one of the UDP side's forwarding slots.
const (
	maxDNSTCPConns          = 32
	maxDNSTCPConnsPerClient = 4
	dnsTCPQueriesPerConn    = 32
	dnsTCPIdle              = 10 * time.Second
	dnsTCPWrite             = 5 * time.Second
	dnsTCPUpstream          = 3 * time.Second
)

// listenTCP serves DNS over TCP on d.addr:53 with lc's options (the
// LAN port's binding).
func (d *lanDNS) listenTCP(lc net.ListenConfig) error {
	ln, err := lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(d.addr, 53).String())
	if err != nil {
		return err
	}
	d.tcp = ln.(*net.TCPListener)
	d.tcpConns = map[net.Conn]netip.Addr{}
	d.tcpByClient = map[netip.Addr]int{}
	d.wg.Add(1)
	go d.serveTCP()
	return nil
}

func (d *lanDNS) serveTCP() {
	defer d.wg.Done()
	for {
		c, err := d.tcp.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				d.log.Error("LAN DNS over TCP stopped", "err", err)
			}
			return
		}
		client := netip.MustParseAddrPort(c.RemoteAddr().String()).Addr().Unmap()
		if !d.takeConn(c, client) {
			c.Close() // too many: the client tries again or does without
			continue
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer d.dropConn(c, client)
			d.serveConn(c, client)
		}()
	}
}

// takeConn counts c in, if client and the whole have room; after stop
// began, no connection is taken.
func (d *lanDNS) takeConn(c net.Conn, client netip.Addr) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tcpClosed || len(d.tcpConns) >= maxDNSTCPConns || d.tcpByClient[client] >= maxDNSTCPConnsPerClient {
		return false
	}
	d.tcpConns[c] = client
	d.tcpByClient[client]++
	return true
}

func (d *lanDNS) dropConn(c net.Conn, client netip.Addr) {
	c.Close()
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.tcpConns, c)
	if d.tcpByClient[client]--; d.tcpByClient[client] <= 0 {
		delete(d.tcpByClient, client)
	}
}

// stopTCP closes the listener and every open connection.
func (d *lanDNS) stopTCP() {
	if d.tcp == nil {
		return
	}
	d.tcp.Close()
	d.mu.Lock()
	d.tcpClosed = true
	for c := range d.tcpConns {
		c.Close()
	}
	d.mu.Unlock()
}

// serveConn answers c's queries one after the other.
func (d *lanDNS) serveConn(c net.Conn, client netip.Addr) {
	for range dnsTCPQueriesPerConn {
		c.SetReadDeadline(time.Now().Add(dnsTCPIdle))
		q, err := readDNSTCP(c)
		if err != nil {
			return
		}
		reply, ok := d.answerLocal(q)
		if !ok {
			if !d.take(client) {
				return // too many in flight: closing tells the client at once
			}
			reply = d.forwardTCP(q)
			d.give(client)
		}
		if reply == nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(dnsTCPWrite))
		if err := writeDNSTCP(c, reply); err != nil {
			return
		}
	}
}

// forwardTCP is forward over TCP.
func (d *lanDNS) forwardTCP(q []byte) []byte {
	return d.forwardShort(q, exchangeTCP, dnsTCPUpstream)
}

// exchangeTCP asks server q over TCP under an ID of the box's own, as
// exchangeUDP does.
func exchangeTCP(ctx context.Context, server netip.Addr, q []byte) ([]byte, error) {
	if len(q) < 12 {
		return nil, errors.New("DNS query too short")
	}
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "tcp", netip.AddrPortFrom(server, 53).String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	out := bytes.Clone(q)
	rand.Read(out[:2])
	if err := writeDNSTCP(c, out); err != nil {
		return nil, err
	}
	reply, err := readDNSTCP(c)
	if err != nil {
		return nil, err
	}
	if reply[0] != out[0] || reply[1] != out[1] || !sameQuestion(q, reply) {
		return nil, errors.New("the answer is not to the question asked")
	}
	reply[0], reply[1] = q[0], q[1]
	return reply, nil
}

// readDNSTCP reads one message with its two-byte length.
func readDNSTCP(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint16(n[:])
	if size < 12 {
		return nil, errors.New("DNS message too short")
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// writeDNSTCP writes msg with its two-byte length in one write.
func writeDNSTCP(w io.Writer, msg []byte) error {
	if len(msg) > 0xffff {
		return errors.New("DNS message too long")
	}
	buf := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg)))
	_, err := w.Write(append(buf, msg...))
	return err
}
