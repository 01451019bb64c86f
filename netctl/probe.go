package netctl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// healthTarget is one probe destination: ICMP echo or a TCP connect.
type healthTarget struct {
	Kind string         // "icmp" or "tcp"
	Addr netip.AddrPort // port 0 for icmp
}

func (t healthTarget) String() string {
	if t.Kind == "icmp" {
		return "icmp:" + t.Addr.Addr().String()
	}
	return "tcp:" + t.Addr.String()
}

// parseHealthTarget parses "icmp:IPv4" or "tcp:IPv4:PORT".
func parseHealthTarget(s string) (healthTarget, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "icmp":
		a, err := netip.ParseAddr(rest)
		if err != nil || !a.Is4() {
			return healthTarget{}, fmt.Errorf("%q: want icmp:IPv4", s)
		}
		return healthTarget{Kind: kind, Addr: netip.AddrPortFrom(a, 0)}, nil
	case "tcp":
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return healthTarget{}, fmt.Errorf("%q: want tcp:IPv4:PORT", s)
		}
		return healthTarget{Kind: kind, Addr: ap}, nil
	}
	return healthTarget{}, fmt.Errorf("%q: want icmp:IPv4 or tcp:IPv4:PORT", s)
}

// bindControl pins a socket to one device, so a probe tests that uplink and
// not whichever one holds the default route.
func bindControl(dev string) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), dev) }); err != nil {
			return err
		}
		return serr
	}
}

// probe checks t through device dev within the context's deadline.
func probe(ctx context.Context, dev string, t healthTarget) error {
	if t.Kind == "tcp" {
		d := net.Dialer{Control: bindControl(dev)}
		c, err := d.DialContext(ctx, "tcp4", t.Addr.String())
		if err == nil {
			c.Close()
			return nil
		}
		// A refusal is an answer from the far end: the path works.
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		return fmt.Errorf("probe %s via %s: %w", t, dev, err)
	}
	return pingVia(ctx, dev, t.Addr.Addr())
}

var pingSeq atomic.Uint32

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// pingVia sends one ICMP echo out of dev and waits for its reply.
func pingVia(ctx context.Context, dev string, dst netip.Addr) error {
	lc := net.ListenConfig{Control: bindControl(dev)}
	pc, err := lc.ListenPacket(ctx, "ip4:icmp", "0.0.0.0")
	if err != nil {
		return fmt.Errorf("probe icmp via %s: %w", dev, err)
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		pc.SetDeadline(dl)
	} else {
		pc.SetDeadline(time.Now().Add(3 * time.Second))
	}
	stop := context.AfterFunc(ctx, func() { pc.SetDeadline(time.Now()) })
	defer stop()
	seq := uint16(pingSeq.Add(1))
	id := uint16(unix.Getpid())
	msg := make([]byte, 16)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], id)
	binary.BigEndian.PutUint16(msg[6:], seq)
	copy(msg[8:], "edgebox!")
	binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	if _, err := pc.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("probe icmp:%s via %s: %w", dst, dev, err)
	}
	buf := make([]byte, 1500)
	for range 64 { // other pings' replies reach this socket too
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("probe icmp:%s via %s: no reply: %w", dst, dev, err)
		}
		b := buf[:n]
		// Raw ICMP sockets hand us the IP header too.
		if n >= 20 && b[0]>>4 == 4 {
			hl := int(b[0]&0x0f) * 4
			if hl > n {
				continue
			}
			b = b[hl:]
		}
		ip, _ := from.(*net.IPAddr)
		if len(b) >= 8 && b[0] == 0 && binary.BigEndian.Uint16(b[4:]) == id && binary.BigEndian.Uint16(b[6:]) == seq &&
			ip != nil && ip.IP.Equal(dst.AsSlice()) {
			return nil
		}
	}
	return fmt.Errorf("probe icmp:%s via %s: no matching reply", dst, dev)
}
