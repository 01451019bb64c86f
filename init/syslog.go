package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// remoteLog forwards every service's output lines to a remote syslog
// server over UDP (RFC 5424), so an admin sees a fleet's logs in one place.
// Sending never blocks a service: when the queue is full, lines are counted
// as dropped instead.
type remoteLog struct {
	hostname string
	mu       sync.Mutex
	conn     net.Conn
	target   string
	queue    chan string
	dropped  int
	// seq numbers the lines (meta sequenceId): a collector sees lost ones.
	seq atomic.Uint32
}

func newRemoteLog(hostname string) *remoteLog {
	r := &remoteLog{hostname: hostname, queue: make(chan string, 1024)}
	go r.run()
	return r
}

// SetTarget points forwarding at host:port, or turns it off with "".
func (r *remoteLog) SetTarget(target string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if target == r.target {
		return nil
	}
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	r.target = target
	if target == "" {
		return nil
	}
	c, err := net.Dial("udp", target)
	if err != nil {
		return fmt.Errorf("remote syslog %s: %w", target, err)
	}
	r.conn = c
	return nil
}

// Line queues one output line of service.
func (r *remoteLog) Line(service, text string) {
	r.mu.Lock()
	off := r.conn == nil
	r.mu.Unlock()
	if off {
		return
	}
	select {
	case r.queue <- r.format(service, text, time.Now()):
	default:
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
	}
}

// severity maps slog's level=... to syslog severities.
func severity(text string) int {
	switch {
	case strings.Contains(text, "level=ERROR"):
		return 3
	case strings.Contains(text, "level=WARN"):
		return 4
	case strings.Contains(text, "level=DEBUG"):
		return 7
	}
	return 6
}

// format builds an RFC 5424 message, facility daemon (3), numbered with
// meta sequenceId (1..2147483647, then 1 again, as RFC 5424 7.3.1 says).
func (r *remoteLog) format(service, text string, t time.Time) string {
	seq := (r.seq.Add(1)-1)%2147483647 + 1
	return fmt.Sprintf("<%d>1 %s %s %s - - [meta sequenceId=\"%d\"] %s", 3*8+severity(text), t.UTC().Format(time.RFC3339Nano), r.hostname, service, seq, text)
}

func (r *remoteLog) run() {
	for msg := range r.queue {
		r.mu.Lock()
		c := r.conn
		r.mu.Unlock()
		if c != nil {
			c.Write([]byte(msg)) // UDP: a lost line is not worth blocking for
		}
	}
}
