package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// tcpSender sends the queue to a collector over TCP, RFC 6587 octet
// counting ("LEN SP MSG"), one connection at a time, from one goroutine.
//
// A successful write only means the kernel took the bytes. When the
// uplink fails over, lines written into the dead path sit unacknowledged
// until the connection is given up (TCP_USER_TIMEOUT), and UDP lost
// exactly those. So a line leaves the queue only once the peer's TCP
// acknowledged it (SIOCOUTQ) and resendWindow has passed since: on a
// broken connection every line not acknowledged, and the ones
// acknowledged in the last resendWindow, go again on the next one. An
// acknowledgement means the collector's kernel has the bytes, not that
// the collector stored them (it may have been stopping): resending those
// few seconds gives duplicates, which a collector can spot by
// sequenceId, instead of gaps, which nobody can fill.
type tcpSender struct {
	addr string
	q    *logQueue
	// dialContext opens the connection (tests dial from a namespace).
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	ctx         context.Context
	cancel      context.CancelFunc
	flush       time.Time // set before cancel: how long to go on sending
	done        chan struct{}
	// lastErr is why the last connection ended or failed (for tests
	// and a debugger; the sequenceIds show a collector any gap).
	lastErr atomic.Pointer[string]
}

const (
	tcpDialTimeout  = 10 * time.Second
	tcpWriteTimeout = 10 * time.Second
	// tcpUserTimeout: written bytes unacknowledged this long end the
	// connection. Below the VPN's own failover, so the lines caught in a
	// dead path are resent over the new one as soon as it is up.
	tcpUserTimeout = 20 * time.Second
	resendWindow   = 5 * time.Second
	// ackStall: a line unacknowledged this long means the path may be
	// dead; lines acknowledged before it are then kept (logQueue).
	ackStall      = 2 * time.Second
	ackPoll       = 250 * time.Millisecond
	tcpBackoffMin = 500 * time.Millisecond
	tcpBackoffMax = 15 * time.Second
	tcpBatch      = 64 << 10
)

func newTCPSender(addr string, q *logQueue, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *tcpSender {
	s := &tcpSender{addr: addr, q: q, dialContext: dial, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// stop ends the sender; with flush > 0 it first goes on sending, for at
// most that long, until every queued line is acknowledged.
func (s *tcpSender) stop(flush time.Duration) {
	s.flush = time.Now().Add(flush)
	s.cancel()
	<-s.done
}

// collectorConn is a connection and its reader, which sees it end.
type collectorConn struct {
	*net.TCPConn
	gone chan struct{} // closed when the reader stopped
	err  error         // why, set before gone is closed
}

func (s *tcpSender) run() {
	defer close(s.done)
	backoff := tcpBackoffMin
	for {
		c, err := s.dial(s.ctx)
		if err == nil {
			err = s.serve(c, &backoff)
			s.hangUp(c)
		}
		if s.ctx.Err() != nil {
			if c == nil {
				s.lastChance()
			}
			return
		}
		msg := err.Error()
		s.lastErr.Store(&msg)
		select {
		case <-s.ctx.Done():
			s.lastChance()
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, tcpBackoffMax)
	}
}

// hangUp closes c and waits for its reader; everything not known to
// have arrived goes again on the next connection.
func (s *tcpSender) hangUp(c *collectorConn) {
	c.Close()
	<-c.gone
	s.q.rewind()
}

// lastChance: stopped while not connected, with flush time left and
// lines queued (a shutdown), one more connection to send them.
func (s *tcpSender) lastChance() {
	if lines, _, _ := s.q.state(); lines == 0 || !time.Now().Before(s.flush) {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), s.flush)
	defer cancel()
	if c, err := s.dial(ctx); err == nil {
		s.drain(c)
		s.hangUp(c)
	}
}

// dial connects (the name looked up again each time: the target may
// move with the VPN) and starts the reader. The collector sends nothing;
// the reader only notices the connection end.
func (s *tcpSender) dial(ctx context.Context) (*collectorConn, error) {
	ctx, cancel := context.WithTimeout(ctx, tcpDialTimeout)
	defer cancel()
	nc, err := s.dialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("remote syslog: %w", err)
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("remote syslog: %s: not a TCP connection", s.addr)
	}
	tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3})
	if err := setUserTimeout(tc); err != nil {
		tc.Close()
		return nil, fmt.Errorf("remote syslog: %s: TCP_USER_TIMEOUT: %w", s.addr, err)
	}
	c := &collectorConn{TCPConn: tc, gone: make(chan struct{})}
	go func() {
		_, err := io.Copy(io.Discard, c.TCPConn)
		if err == nil {
			err = errors.New("the collector closed the connection")
		}
		c.err = err
		close(c.gone)
	}()
	return c, nil
}

// serve sends the queue on c until c breaks or the sender stops.
func (s *tcpSender) serve(c *collectorConn, backoff *time.Duration) error {
	for {
		if err := s.writePending(c); err != nil {
			return err
		}
		if s.checkAcks(c) {
			*backoff = tcpBackoffMin
		}
		var poll <-chan time.Time
		if _, sent, _ := s.q.state(); sent > 0 {
			poll = time.After(ackPoll)
		}
		select {
		case <-s.ctx.Done():
			s.drain(c)
			return s.ctx.Err()
		case <-c.gone:
			return c.err
		case <-s.q.wake:
		case <-poll:
		}
	}
}

// writePending writes the lines not written yet, in batches.
func (s *tcpSender) writePending(c *collectorConn) error {
	var buf []byte
	for {
		msgs := s.q.pending(tcpBatch)
		if len(msgs) == 0 {
			return nil
		}
		buf = buf[:0]
		for _, m := range msgs {
			buf = appendFrame(buf, m)
		}
		// A write cut short leaves half a frame: the connection is
		// given up, and the next one starts clean with the whole lines.
		deadline := time.Now().Add(tcpWriteTimeout)
		if s.ctx.Err() != nil {
			deadline = s.flush
		}
		c.SetWriteDeadline(deadline)
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("remote syslog: write: %w", err)
		}
		s.q.written(msgs, false)
	}
}

// checkAcks marks what the peer acknowledged; true if anything was.
func (s *tcpSender) checkAcks(c *collectorConn) bool {
	n, err := unackedBytes(c.TCPConn)
	if err != nil {
		return false // nothing is known to have arrived: kept
	}
	return s.q.acknowledged(n, time.Now(), resendWindow, ackStall) > 0
}

// drain goes on sending after stop until every line is acknowledged or
// the flush time is up (zero: at once).
func (s *tcpSender) drain(c *collectorConn) {
	for range 1000 { // bounded; the flush time ends it first
		if !time.Now().Before(s.flush) || s.writePending(c) != nil {
			return
		}
		s.checkAcks(c)
		if n, err := unackedBytes(c.TCPConn); err == nil && n == 0 {
			if lines, sent, _ := s.q.state(); lines == sent {
				return
			}
		}
		select {
		case <-c.gone:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
