package web

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Connections to the UI are capped per source (an IPv6 /64 counts as
// one) and per arrival interface. Each holds a descriptor of web for up
// to the header timeout, and a connection that sent one request is kept
// alive idle for two minutes: a LAN host that opened connections and sent
// "GET /healthz" on each held as many as it liked, until web had no
// descriptor left and answered no one, the admins on the VPN included
// (the LAN must not lock the admin out). A browser opens about six;
// the per-interface cap keeps the VPN's share whatever the LAN does.
// Fifth review.
const (
	maxConnsPerSource = 64
	maxConnsPerIface  = 512
)

// connCap counts web's open TCP connections; the zero value is ready.
type connCap struct {
	mu      sync.Mutex
	bySrc   map[netip.Addr]int
	byIface map[string]int
}

// admit counts c, which arrived on iface, and returns it wrapped so that
// closing it gives its place back; false: over a cap, c is not counted.
func (cc *connCap) admit(c net.Conn, iface string) (net.Conn, bool) {
	src := netip.Addr{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
		if src.Is6() {
			p, _ := src.Prefix(64)
			src = p.Addr()
		}
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.bySrc == nil {
		cc.bySrc, cc.byIface = map[netip.Addr]int{}, map[string]int{}
	}
	if cc.bySrc[src] >= maxConnsPerSource || cc.byIface[iface] >= maxConnsPerIface {
		return nil, false
	}
	cc.bySrc[src]++
	cc.byIface[iface]++
	return &cappedConn{Conn: c, release: func() { cc.release(src, iface) }}, true
}

func (cc *connCap) release(src netip.Addr, iface string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.bySrc[src]--; cc.bySrc[src] <= 0 {
		delete(cc.bySrc, src)
	}
	if cc.byIface[iface]--; cc.byIface[iface] <= 0 {
		delete(cc.byIface, iface)
	}
}

// cappedConn gives its place back once, at its first Close.
type cappedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *cappedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// logCapped says, at most once a minute, that connections were closed for
// a cap: a portal server or a script on the LAN that opens more than
// maxConnsPerSource at once sees only connection resets, and the admin
// must find the reason in the log.
func (l *filterListener) logCapped(c net.Conn, iface string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.capped++
	if time.Since(l.cappedLogged) < time.Minute {
		return
	}
	slog.Warn("connection closed: too many open at once from this address or on this interface; a script or server using the API must keep fewer connections open",
		"remote", c.RemoteAddr().String(), "interface", iface, "per_address", maxConnsPerSource, "per_interface", maxConnsPerIface,
		"closed_since_last_log", l.capped)
	l.cappedLogged, l.capped = time.Now(), 0
}
