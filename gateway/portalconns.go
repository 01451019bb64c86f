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
// Sources inside (LAN, VPN, loopback: ingressclass.go) have a total of
// their own, so the internet's connections cannot lock them out.
const (
	maxPortalConnsPerSource = 256
	maxPortalConnsTotal     = 1024
	maxPortalConnsInside    = 256
)

// portalConns counts the portal's connections by source (http.Server's
// ConnState hook).
type portalConns struct {
	mu    sync.Mutex
	conns map[net.Conn]portalConn
	bySrc map[netip.Addr]int
	// open counts the connections from outside [0] and inside [1]
	open [2]int
	// onRefuse counts a connection closed at once for the cap
	onRefuse func()
}

func newPortalConns(onRefuse func()) *portalConns {
	return &portalConns{conns: map[net.Conn]portalConn{}, bySrc: map[netip.Addr]int{}, onRefuse: onRefuse}
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

// portalConn is what the count knows of a connection.
type portalConn struct {
	src    netip.Addr // the source key (an IPv6 /64)
	inside int        // 1 from inside, 0 from the internet
}

func (p *portalConns) admit(c net.Conn) bool {
	pc := portalConn{}
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ip := ta.AddrPort().Addr().Unmap()
		pc.src = sourceKey(ip)
		if insideSource(ip) {
			pc.inside = 1
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	limit := maxPortalConnsTotal
	if pc.inside == 1 {
		limit = maxPortalConnsInside
	}
	if p.open[pc.inside] >= limit || p.bySrc[pc.src] >= maxPortalConnsPerSource {
		return false
	}
	p.conns[c] = pc
	p.bySrc[pc.src]++
	p.open[pc.inside]++
	return true
}

func (p *portalConns) release(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc, ok := p.conns[c]
	if !ok {
		return // refused at StateNew, or released at its upgrade
	}
	delete(p.conns, c)
	p.open[pc.inside]--
	if p.bySrc[pc.src]--; p.bySrc[pc.src] <= 0 {
		delete(p.bySrc, pc.src)
	}
}
