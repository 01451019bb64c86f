package openvpn

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"
)

// Dead-server detection for servers that push no keepalive. openvpn
// notices a dead server only through ping-restart; a server without
// "keepalive" pushes none. A UDP client that pulls keeps openvpn's initial
// ping-restart of 120 s then, which restarts an idle tunnel whose server
// is fine (it sends nothing) every two minutes; over TCP there is none,
// and a server gone without a reset stays "connected" for ever. So
// the box looks at what openvpn received (>BYTECOUNT): while something
// comes in, all is well; after IdleProbeAfter with nothing, it sends an
// ICMP echo through the tunnel to the server's tunnel address (the pushed
// route-gateway, or the peer of a net30/p2p ifconfig) every ProbeEvery. A
// live server answers, the counter grows, and the probes stop until the
// next silence: an idle tunnel costs one echo a minute. After probeTries
// echoes with nothing received the server is dead: openvpn is restarted
// and the status says ErrServerSilent.

// ErrServerSilent is the status's last error after the probes.
const ErrServerSilent = "VPN server not answering"

// probeTries unanswered echoes end the tunnel.
const probeTries = 4

// ProbeFunc sends one ICMP echo to addr out of the tunnel device dev. It
// need not wait for the answer: what comes back shows in the byte count.
type ProbeFunc func(ctx context.Context, dev string, addr netip.Addr) error

// peerWatch is a session's dead-server detection state (run loop only).
type peerWatch struct {
	live         bool        // openvpn's state is CONNECTED (else it is reconnecting by itself)
	gateway      netip.Addr  // the server's tunnel address; invalid: not probed
	serverPings  bool        // the server pushed ping-restart: openvpn watches itself
	push         pushedAddrs // what the server pushed that names its tunnel address (deadpeer_addr.go)
	dns          pushedDNS   // what it pushed about DNS (pushdns.go): read from the same reply
	ownDNS       pushedDNS   // the profile's own DNS lines and pull filters
	lastIn       uint64
	lastInAt     time.Time
	probes       int
	nextProbe    time.Time
	lastProbeErr error
}

// onPush reads the server's PUSH_REPLY from openvpn's log (a long one
// comes in parts, all but the last with "push-continuation 2").
func (w *peerWatch) onPush(msg string) {
	i := strings.Index(msg, "PUSH_REPLY,")
	if i < 0 {
		return
	}
	reply := strings.TrimRight(msg[i+len("PUSH_REPLY,"):], "' ")
	if w.push.done {
		w.push, w.serverPings = pushedAddrs{}, false // a new reply: a reconnect, maybe another server
		w.dns = w.ownDNS.filtersOnly()
	}
	w.push.done = true
	for _, opt := range strings.Split(reply, ",") {
		f := strings.Fields(opt)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "ping-restart", "ping-exit":
			w.serverPings = true
		case "push-continuation":
			w.push.done = len(f) > 1 && f[1] == "1"
		default:
			w.push.read(f)
			w.dns.readPushed(f)
		}
	}
	w.gateway = w.push.server()
}

// received notes a byte count: anything new resets the probes.
func (w *peerWatch) received(in uint64, now time.Time) {
	if in != w.lastIn || w.lastInAt.IsZero() {
		w.lastIn, w.lastInAt = in, now
		w.probes, w.nextProbe = 0, time.Time{}
	}
}

// watched says whether the box itself must look for a dead server.
func (w *peerWatch) watched() bool { return w.gateway.IsValid() && !w.serverPings }

// due is when the watch must act next (zero: nothing to do).
func (w *peerWatch) due(idle time.Duration) time.Time {
	if !w.live || !w.watched() || w.lastInAt.IsZero() {
		return time.Time{}
	}
	if w.probes == 0 {
		return w.lastInAt.Add(idle)
	}
	return w.nextProbe
}

// watchPeer probes a silent server and reports whether it is to be taken
// for dead (openvpn stopped).
func (l *loop) watchPeer(now time.Time) bool {
	m, s := l.m, l.s
	w := &s.peer
	at := w.due(m.opt.IdleProbeAfter)
	if at.IsZero() || now.Before(at) {
		return false
	}
	if w.probes >= probeTries {
		silent := now.Sub(w.lastInAt).Round(time.Second)
		msg := fmt.Sprintf("%s: nothing came through the tunnel for %s, and %d pings to its tunnel address %s went unanswered; reconnecting", ErrServerSilent, silent, w.probes, w.gateway)
		if w.lastProbeErr != nil {
			msg += fmt.Sprintf(" (the pings could not be sent: %v)", w.lastProbeErr)
		}
		m.log.Warn("the VPN server does not answer; restarting openvpn", "gateway", w.gateway, "silent", silent)
		s.endedBy = msg
		m.setError(msg)
		s.p.stop()
		return true
	}
	dev := m.Status().Interface
	if dev == "" {
		dev = m.opt.Interface
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	w.lastProbeErr = m.opt.Probe(ctx, dev, w.gateway)
	cancel()
	if w.lastProbeErr != nil {
		m.log.Warn("vpn probe not sent", "gateway", w.gateway, "err", w.lastProbeErr)
	} else {
		m.log.Debug("vpn silent: probing the server's tunnel address", "gateway", w.gateway, "probe", w.probes+1)
	}
	w.probes++
	w.nextProbe = now.Add(m.opt.ProbeEvery)
	return false
}

// PingOnce is the default ProbeFunc: one ICMP echo request from a raw
// socket bound to dev (root), not waiting for the answer.
func PingOnce(ctx context.Context, dev string, addr netip.Addr) error {
	if !addr.Is4() {
		return fmt.Errorf("probe %s: only IPv4 tunnel addresses are probed", addr)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_ICMP)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, dev); err != nil {
		return fmt.Errorf("bind to %s: %w", dev, err)
	}
	if d, ok := ctx.Deadline(); ok {
		tv := syscall.NsecToTimeval(max(time.Until(d), time.Millisecond).Nanoseconds())
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	}
	msg := make([]byte, 16)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], uint16(os.Getpid()))
	binary.BigEndian.PutUint16(msg[6:], uint16(time.Now().UnixNano()))
	copy(msg[8:], "edgebox!")
	binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	sa := &syscall.SockaddrInet4{Addr: addr.As4()}
	if err := syscall.Sendto(fd, msg, 0, sa); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	return nil
}

// icmpChecksum is the Internet checksum (RFC 1071) of b.
func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
