package gateway

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"

	"github.com/pion/turn/v4"
)

// The built-in TURN server relays a browser's media to the box's WebRTC
// port. Without a guard it relays anywhere a credential holder asks:
// 127.0.0.1's services, the LAN, the VPN, and any host on the internet (an
// anonymous UDP relay with the box's address for every visitor of the
// portal's site, until the seventh review): the box itself (its addresses
// and media.public_address) is the only peer a call needs. TURN
// permissions are per IP (RFC 8656), so the guard works at two levels:
// permit refuses peer addresses, and every relay socket refuses, per
// packet, the box's own addresses on any port but the WebRTC port. A relay
// socket also stops carrying anything once the credentials it was
// allocated with lapse (the token expired and its call, if any, ended),
// without waiting for the client's next refresh.

// relayGuard is the relay policy of one TURN server.
type relayGuard struct {
	allowed []netip.Prefix // ranges the admin opened (gateway.turn.allowed_peers)
	icePort func() int
	public  func() netip.Addr          // media.public_address (invalid: none)
	valid   func(username string) bool // credentials still hold
	log     *slog.Logger
	// refusedLog summarises the refused peers (portallog.go)
	refusedLog *summaryLog
	// own is the box's addresses as last read by permit (a permission
	// always comes before any packet to its peer)
	own atomic.Pointer[[]netip.Prefix]

	mu     sync.Mutex
	relays map[string]*guardedRelayConn // by relay address
}

func newRelayGuard(allowedPeers []string, icePort func() int, public func() netip.Addr, valid func(string) bool, log *slog.Logger) *relayGuard {
	g := &relayGuard{icePort: icePort, public: public, valid: valid, log: log, refusedLog: newSummaryLog(log, 20, 6*time.Second), relays: map[string]*guardedRelayConn{}}
	for _, a := range allowedPeers {
		if p, err := config.ParsePrefixOrIP(a); err == nil {
			g.allowed = append(g.allowed, p)
		}
	}
	own := interfacePrefixes()
	g.own.Store(&own)
	return g
}

// bind tells the relay socket at relay which credentials it serves (pion
// reports them once the allocation exists).
func (g *relayGuard) bind(relay net.Addr, username string) {
	g.mu.Lock()
	c := g.relays[relay.String()]
	g.mu.Unlock()
	if c != nil {
		c.user.Store(&username)
	}
}

// permit is the TURN PermissionHandler (CreatePermission, ChannelBind).
func (g *relayGuard) permit(client net.Addr, peer net.IP) bool {
	ip, _ := netip.AddrFromSlice(peer)
	ip = ip.Unmap()
	// At most one netlink dump each 500 ms, and a burst of lines: a
	// client with one call's credentials sends CreatePermission as fast
	// as it likes (sixth review).
	own := recentOwnPrefixes()
	g.own.Store(&own)
	ok, why := relayPeerAllowed(ip, g.allowed, own, g.public())
	if !ok {
		g.refusedLog.info("TURN peer refused", "client", client.String(), "peer", ip.String(), "why", why)
	}
	return ok
}

// boxPortRefused says whether a packet to or from ap touches the box
// itself on a port other than its WebRTC port.
func (g *relayGuard) boxPortRefused(ap netip.AddrPort) bool {
	ip := ap.Addr().Unmap()
	if ip.IsLoopback() || ip == g.public() {
		return int(ap.Port()) != g.icePort()
	}
	for _, p := range *g.own.Load() {
		if p.IsSingleIP() && p.Addr() == ip {
			return int(ap.Port()) != g.icePort()
		}
	}
	return false
}

// relayPeerAllowed decides whether TURN may relay to ip (classifyPeer's
// classes). The box's own addresses and its public one pass here (its
// WebRTC port is what relays are for; the relay socket refuses its other
// ports), the rest of the networks it sits in (its interfaces' subnets:
// LAN, VPN, uplinks) never, nor link-local, multicast or broadcast;
// other hosts, private or on the internet, only when
// gateway.turn.allowed_peers names them.
func relayPeerAllowed(ip netip.Addr, allowed, own []netip.Prefix, public netip.Addr) (bool, string) {
	switch k := classifyPeer(ip, own); k {
	case peerSelf:
		return true, "" // the box itself: WebRTC port only
	case peerElsewhere:
		if ip.Unmap() == public {
			return true, "" // the box's public address: WebRTC port only
		}
		for _, p := range allowed {
			if p.Contains(ip.Unmap()) {
				return true, ""
			}
		}
		return false, "not the box: the relay is for the box's WebRTC port (gateway.turn.allowed_peers opens others)"
	case peerPrivate:
		for _, p := range allowed {
			if p.Contains(ip.Unmap()) {
				return true, ""
			}
		}
		return false, "private or CGNAT range not in gateway.turn.allowed_peers"
	default:
		return false, k.why()
	}
}

// interfacePrefixes are the box's addresses, each as a single-IP prefix,
// and its interfaces' subnets, read each time: uplink and VPN addresses
// change while the gateway runs.
func interfacePrefixes() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := make([]netip.Prefix, 0, 2*len(addrs))
	for _, a := range addrs {
		pn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(pn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		ones, bits := pn.Mask.Size()
		if ip.Is4() && bits == 128 {
			ones -= 96
		}
		out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		if p, err := ip.Prefix(ones); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// guardedRelayGenerator hands pion relay sockets that apply the guard.
type guardedRelayGenerator struct {
	turn.RelayAddressGeneratorStatic
	guard *relayGuard
}

func (r *guardedRelayGenerator) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	c, a, err := r.RelayAddressGeneratorStatic.AllocatePacketConn(network, requestedPort)
	if err != nil {
		return nil, nil, err
	}
	gc := &guardedRelayConn{PacketConn: c, guard: r.guard, key: a.String()}
	r.guard.mu.Lock()
	r.guard.relays[gc.key] = gc
	r.guard.mu.Unlock()
	return gc, a, nil
}

// guardedRelayConn is one allocation's relay socket.
type guardedRelayConn struct {
	net.PacketConn
	guard *relayGuard
	key   string
	user  atomic.Pointer[string] // the allocation's credentials, once known
	// checked is when the credentials were last found valid (unix ns):
	// they are looked at again at most once a second
	checked atomic.Int64
	dead    atomic.Bool // lapsed for good: a tag's one call never comes back
}

// lapsed says whether the allocation's credentials no longer hold.
func (c *guardedRelayConn) lapsed() bool {
	if c.dead.Load() {
		return true
	}
	u := c.user.Load()
	if u == nil {
		return false // the allocation is being made
	}
	now := time.Now().UnixNano()
	if now-c.checked.Load() < int64(time.Second) {
		return false
	}
	if !c.guard.valid(*u) {
		c.dead.Store(true)
		return true
	}
	c.checked.Store(now)
	return false
}

func (c *guardedRelayConn) Close() error {
	c.guard.mu.Lock()
	if c.guard.relays[c.key] == c {
		delete(c.guard.relays, c.key)
	}
	c.guard.mu.Unlock()
	return c.PacketConn.Close()
}

func (c *guardedRelayConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if ua, ok := to.(*net.UDPAddr); ok && c.guard.boxPortRefused(ua.AddrPort()) {
		return len(b), nil // dropped, as a firewall would
	}
	if c.lapsed() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, to)
}

func (c *guardedRelayConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, from, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, from, err
		}
		if ua, ok := from.(*net.UDPAddr); ok && c.guard.boxPortRefused(ua.AddrPort()) {
			continue
		}
		if c.lapsed() {
			continue
		}
		return n, from, err
	}
}
