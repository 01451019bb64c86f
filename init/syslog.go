package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"
)

// remoteLog forwards every service's output lines to a remote syslog
// server (RFC 5424), so an admin sees a fleet's logs in one place: over
// UDP (udpSender) or TCP (tcpSender), as system.syslog says. Sending
// never blocks a service: lines wait in a bounded queue (logQueue) whose
// oldest lines are dropped, and counted, when it is full.
type remoteLog struct {
	hostname string
	mu       sync.Mutex // SetTarget and Close
	target   string
	out      logSender
	// queue is the current target's (nil: off), read by Line without
	// the lock: Line runs for every line a service prints.
	queue atomic.Pointer[logQueue]
	// seq numbers the lines (meta sequenceId): a collector sees lost ones.
	seq atomic.Uint32
	// resolve looks a UDP target up, dialTCP connects to a TCP one
	// (tests replace them).
	resolve func(ctx context.Context, target string) (*net.UDPAddr, error)
	dialTCP func(ctx context.Context, network, addr string) (net.Conn, error)
}

// logSender sends one target's queue until stopped.
type logSender interface {
	// stop ends the sender and waits for it; with flush > 0 it may
	// first go on sending for that long.
	stop(flush time.Duration)
}

func newRemoteLog(hostname string) *remoteLog {
	return &remoteLog{hostname: hostname, resolve: resolveUDP, dialTCP: (&net.Dialer{}).DialContext}
}

// SetTarget points forwarding at a system.syslog value (host:port for
// UDP, tcp://host:port), or turns it off with "". Only a value that does
// not read is an error, and it leaves the forwarding as it was; a target
// not reachable yet is tried again as lines come.
func (r *remoteLog) SetTarget(target string) error {
	t, err := config.ParseSyslog(target)
	if err != nil {
		return fmt.Errorf("remote syslog: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if target == r.target {
		return nil
	}
	r.stopLocked(0)
	r.target = target
	if t.Address == "" {
		return nil
	}
	q := newLogQueue(queueMaxLines, queueMaxBytes, r.droppedNotice)
	if t.Transport == "tcp" {
		r.out = newTCPSender(t.Address, q, r.dialTCP)
	} else {
		r.out = newUDPSender(t.Address, q, r.resolve)
	}
	r.queue.Store(q)
	return nil
}

// Close stops forwarding, sending what is queued for at most flush
// (TCP; the lines of a shutdown).
func (r *remoteLog) Close(flush time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopLocked(flush)
	r.target = ""
}

func (r *remoteLog) stopLocked(flush time.Duration) {
	r.queue.Store(nil)
	if r.out != nil {
		r.out.stop(flush)
		r.out = nil
	}
}

// Line queues one output line of service.
func (r *remoteLog) Line(service, text string) {
	if q := r.queue.Load(); q != nil {
		q.push(r.format(service, text, time.Now()))
	}
}

// droppedNotice is the line that goes out just before the first line
// after a full queue dropped n: the collector's sequenceIds show which.
func (r *remoteLog) droppedNotice(n int) string {
	return r.format("init", fmt.Sprintf(`level=WARN msg="remote syslog: queue full, oldest lines dropped" dropped=%d`, n), time.Now())
}

// severity maps slog's level=... to syslog severities. Only the line's
// own level field counts (first, or after time=): values later in the
// line may be text a stranger chose (a SIP User-Agent, an SMS sender),
// which slog quotes but keeps, and "level=ERROR" there made an INFO line
// an error at the log server (fifth review).
func severity(text string) int {
	f := strings.SplitN(text, " ", 3)
	level := f[0]
	if strings.HasPrefix(level, "time=") && len(f) > 1 {
		level = f[1]
	}
	switch level {
	case "level=ERROR":
		return 3
	case "level=WARN":
		return 4
	case "level=DEBUG":
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
