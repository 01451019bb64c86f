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
//
// The target is set at boot, before netctl has brought any uplink or the
// VPN up: no route leads to it yet and its name does not resolve. So the
// address is looked up when lines are sent, again after a failure (at most
// every redial), and the socket is not connected: the kernel picks the
// route and source address for every line, so forwarding follows the
// uplink when it moves (a connected socket keeps the first source address).
// Lines that could not go yet wait in a backlog (the newest backlogMax),
// so the collector also gets the boot's lines once the target is reached.
type remoteLog struct {
	hostname string
	mu       sync.Mutex
	target   string
	addr     *net.UDPAddr // the target looked up; nil until it resolves
	conn     net.PacketConn
	nextTry  time.Time // no lookup before this after a failed one
	lastErr  string
	backlog  []string // lines not sent yet, oldest first
	queue    chan string
	dropped  int
	// on is target != "", read by Line without the lock: send may hold
	// it through a lookup, and Line runs for every line a service prints.
	on atomic.Bool
	// seq numbers the lines (meta sequenceId): a collector sees lost ones.
	seq atomic.Uint32
	// resolve looks the target up (tests replace it).
	resolve func(target string) (*net.UDPAddr, error)
}

// redial is how long a target that did not resolve or could not be sent
// to waits before the next try; lines meanwhile are dropped and counted.
const redial = 5 * time.Second

// backlogMax bounds the lines kept while the target is unreachable.
const backlogMax = 512

func newRemoteLog(hostname string) *remoteLog {
	r := &remoteLog{hostname: hostname, queue: make(chan string, 1024),
		resolve: func(t string) (*net.UDPAddr, error) { return net.ResolveUDPAddr("udp", t) }}
	go r.run()
	return r
}

// SetTarget points forwarding at host:port, or turns it off with "". Only
// a target that is not host:port is an error; one not reachable yet is
// tried again as lines come.
func (r *remoteLog) SetTarget(target string) error {
	if target != "" {
		if host, port, err := net.SplitHostPort(target); err != nil || host == "" || port == "" {
			return fmt.Errorf("remote syslog %q: not host:port", target)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if target == r.target {
		return nil
	}
	r.target, r.addr, r.nextTry, r.lastErr, r.backlog = target, nil, time.Time{}, "", nil
	r.on.Store(target != "")
	if target == "" && r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	return nil
}

// Line queues one output line of service.
func (r *remoteLog) Line(service, text string) {
	if !r.on.Load() {
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

func (r *remoteLog) run() {
	tick := time.NewTicker(redial)
	defer tick.Stop()
	for {
		select {
		case msg := <-r.queue:
			r.send(msg)
		case <-tick.C:
			r.send("") // the backlog, once the target is reachable
		}
	}
}

// send writes the backlog and then msg ("" for none) to the target,
// looking it up first if needed. What cannot go now is kept in the
// backlog, and the failure holds off the next try for redial.
func (r *remoteLog) send(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.target == "" {
		return
	}
	if msg != "" {
		r.backlog = append(r.backlog, msg)
		if n := len(r.backlog) - backlogMax; n > 0 {
			r.backlog = r.backlog[n:]
			r.dropped += n
		}
	}
	if len(r.backlog) == 0 || time.Now().Before(r.nextTry) {
		return
	}
	if r.addr == nil {
		// The lookup may wait on a DNS server: not under the lock,
		// which SetTarget needs.
		target := r.target
		r.mu.Unlock()
		a, err := r.resolve(target)
		r.mu.Lock()
		if r.target != target {
			return // changed meanwhile: the next line tries the new one
		}
		if err != nil {
			r.fail(err)
			return
		}
		r.addr = a
	}
	if r.conn == nil {
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			r.fail(err)
			return
		}
		r.conn = c
	}
	for len(r.backlog) > 0 {
		if _, err := r.conn.WriteTo([]byte(r.backlog[0]), r.addr); err != nil {
			// No route yet (the uplink or the VPN still coming up), or
			// the address moved: look the name up again after a pause.
			r.addr = nil
			r.fail(err)
			return
		}
		r.backlog = r.backlog[1:]
	}
}

// fail keeps the reason and holds off the next try.
func (r *remoteLog) fail(err error) {
	r.lastErr = err.Error()
	r.nextTry = time.Now().Add(redial)
}
