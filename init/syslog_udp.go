package main

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// udpSender sends the queue to a collector over UDP (RFC 5426), a
// datagram a line, from one goroutine.
//
// The target is often set at boot, before netctl has brought any uplink
// or the VPN up: no route leads to it yet and its name does not resolve.
// So the address is looked up when lines are sent, again after a failure
// (at most every redial), and the socket is not connected: the kernel
// picks the route and source address for every line, so forwarding
// follows the uplink when it moves (a connected socket keeps the first
// source address). Lines that could not go yet stay queued, so the
// collector also gets the boot's lines once the target is reached.
//
// What the kernel took is gone from the queue: lines sent into a path
// that just died (a failover) are lost. TCP (tcpSender) keeps them.
type udpSender struct {
	target  string
	q       *logQueue
	resolve func(ctx context.Context, target string) (*net.UDPAddr, error)
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

// redial is how long a target that did not resolve or could not be sent
// to waits before the next try; lines meanwhile stay queued.
const redial = 5 * time.Second

func newUDPSender(target string, q *logQueue, resolve func(context.Context, string) (*net.UDPAddr, error)) *udpSender {
	s := &udpSender{target: target, q: q, resolve: resolve, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// stop ends the sender. A datagram is sent when its line comes or not
// at all: there is nothing to flush.
func (s *udpSender) stop(time.Duration) {
	s.cancel()
	<-s.done
}

// resolveUDP looks target up; the sender's stop cancels a slow lookup.
func resolveUDP(ctx context.Context, target string) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	p, err := net.LookupPort("udp", port)
	if err != nil {
		return nil, err
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ips[0].Unmap(), uint16(p))), nil
}

func (s *udpSender) run() {
	defer close(s.done)
	tick := time.NewTicker(redial)
	defer tick.Stop()
	var (
		addr    *net.UDPAddr
		conn    net.PacketConn
		nextTry time.Time
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.q.wake:
		case <-tick.C: // the queue, once the target is reachable
		}
		if time.Now().Before(nextTry) {
			continue
		}
		var err error
		if addr == nil {
			addr, err = s.resolve(s.ctx, s.target)
		}
		if err == nil && conn == nil {
			conn, err = net.ListenPacket("udp", ":0")
		}
		if err == nil {
			err = s.sendQueued(conn, addr)
		}
		if err != nil {
			// No route yet (the uplink or the VPN still coming up), or
			// the address moved: look the name up again after a pause.
			addr, nextTry = nil, time.Now().Add(redial)
		}
	}
}

// sendQueued writes the queued lines until one fails.
func (s *udpSender) sendQueued(conn net.PacketConn, addr *net.UDPAddr) error {
	for {
		msgs := s.q.pending(64 << 10)
		if len(msgs) == 0 {
			return nil
		}
		for i, m := range msgs {
			_, err := conn.WriteTo([]byte(m), addr)
			if errors.Is(err, syscall.EMSGSIZE) {
				// Too long for a datagram: it would never go and would
				// hold up every line after it.
				s.q.written(msgs[:i+1], true)
				s.q.countDropped(1)
				return nil
			}
			if err != nil {
				s.q.written(msgs[:i], true)
				return err
			}
		}
		s.q.written(msgs, true)
	}
}
