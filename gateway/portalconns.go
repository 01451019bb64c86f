package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// The portal's connections that are not WebSockets yet (a TLS handshake
// under way, a request being read, kept alive between requests) are
// capped per source (an IPv6 /64 counts as one) and in all. Each holds a
// descriptor for up to the header timeout (10 s), and the gateway's
// descriptors (4096 without a raised limit) serve SIP, the media and the
// calls too: one internet host that opened some 400 connections a
// second and sent nothing kept them all, and every call, SIP connection
// and PBX leg failed for want of one (fifth review). A WebSocket leaves
// the count at its upgrade: the signaling's own caps (sockets without a
// token, max_calls) hold from there. The per-source cap leaves room for a
// busy portal server's parallel requests and for a carrier NAT's many
// callers, whose sockets are upgraded soon after they open.
const (
	maxPortalConnsPerSource = 256
	maxPortalConnsTotal     = 1024
)

// portalConns counts the portal's connections by source (http.Server's
// ConnState hook).
type portalConns struct {
	mu    sync.Mutex
	conns map[net.Conn]netip.Addr
	bySrc map[netip.Addr]int
	// onRefuse counts a connection closed at once for the cap
	onRefuse func()
}

func newPortalConns(onRefuse func()) *portalConns {
	return &portalConns{conns: map[net.Conn]netip.Addr{}, bySrc: map[netip.Addr]int{}, onRefuse: onRefuse}
}

// state is the http.Server ConnState hook.
func (p *portalConns) state(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		if !p.admit(c) {
			if p.onRefuse != nil {
				p.onRefuse()
			}
			c.Close() // the server's first read fails, and it forgets c
		}
	case http.StateHijacked, http.StateClosed:
		p.release(c)
	}
}

func (p *portalConns) admit(c net.Conn) bool {
	src := netip.Addr{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = sourceKey(ta.AddrPort().Addr().Unmap())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) >= maxPortalConnsTotal || p.bySrc[src] >= maxPortalConnsPerSource {
		return false
	}
	p.conns[c] = src
	p.bySrc[src]++
	return true
}

func (p *portalConns) release(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	src, ok := p.conns[c]
	if !ok {
		return // refused at StateNew, or released at its upgrade
	}
	delete(p.conns, c)
	if p.bySrc[src]--; p.bySrc[src] <= 0 {
		delete(p.bySrc, src)
	}
}
