package netctl

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// An SNTP client (RFC 4330) for system.ntp: one request, one answer,
// the clock's offset from it. The box needs the right time before its VPN
// accepts the server's certificate, and an APU's RTC may be flat.

// ntpEpoch is 1900-01-01 in Unix seconds (negative).
const ntpEpoch = -2208988800

// ntpAnswer is what one server said.
type ntpAnswer struct {
	Server  string
	Offset  time.Duration // add to the local clock to get the server's
	RTT     time.Duration
	Stratum int
}

// ntpAddress makes host:123 of a system.ntp entry ("pool.ntp.org",
// "10.8.0.1:123", "[2001:db8::1]", "ntp://host").
func ntpAddress(server string) string {
	s := strings.TrimSpace(server)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.TrimSuffix(s, "/")
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), "123")
}

// queryNTP asks server once; now is the local clock (tests shift it).
func queryNTP(ctx context.Context, server string, now func() time.Time) (ntpAnswer, error) {
	a := ntpAnswer{Server: server}
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", ntpAddress(server))
	if err != nil {
		return a, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// The transmit timestamp is random: the server copies it into its
	// answer's origin field, so an answer that does not carry it back was
	// not asked for (a spoofed or stale one).
	req := make([]byte, 48)
	req[0] = 0<<6 | 4<<3 | 3 // no leap warning, version 4, client
	rand.Read(req[40:48])
	t1 := now()
	if _, err := c.Write(req); err != nil {
		return a, err
	}
	buf := make([]byte, 128)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return a, err
		}
		t4 := now()
		if n < 48 || string(buf[24:32]) != string(req[40:48]) {
			continue // not the answer to this request
		}
		return readNTP(a, buf[:n], t1, t4)
	}
}

// readNTP checks an answer and computes the offset from the four times.
func readNTP(a ntpAnswer, p []byte, t1, t4 time.Time) (ntpAnswer, error) {
	leap, mode := p[0]>>6, p[0]&7
	a.Stratum = int(p[1])
	switch {
	case mode != 4:
		return a, fmt.Errorf("NTP server %s: answered in mode %d, not as a server", a.Server, mode)
	case a.Stratum == 0:
		return a, fmt.Errorf("NTP server %s: refused the request (kiss code %q)", a.Server, strings.TrimRight(string(p[12:16]), "\x00"))
	case leap == 3 || a.Stratum > 15:
		return a, fmt.Errorf("NTP server %s: its own clock is not synchronised", a.Server)
	}
	t2, t3 := ntpTime(p[32:40]), ntpTime(p[40:48])
	if t3.IsZero() {
		return a, errors.New("NTP server " + a.Server + ": an answer without a time")
	}
	a.Offset = (t2.Sub(t1) + t3.Sub(t4)) / 2
	a.RTT = t4.Sub(t1) - t3.Sub(t2)
	return a, nil
}

// ntpTime reads a 64-bit NTP timestamp. Seconds below 2^31 are taken as
// the era after 2036 (RFC 4330 section 3).
func ntpTime(b []byte) time.Time {
	sec, frac := binary.BigEndian.Uint32(b[:4]), binary.BigEndian.Uint32(b[4:])
	if sec == 0 && frac == 0 {
		return time.Time{}
	}
	s := int64(sec)
	if sec < 1<<31 {
		s += 1 << 32
	}
	return time.Unix(s+ntpEpoch, int64(frac)*1e9>>32)
}
