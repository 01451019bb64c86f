package web

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

var errNotLAN = errors.New("only answered on the LAN or VPN interfaces")

// Interfaces lists the host's interfaces with their addresses. It is the
// kernel behind an interface so the access policy is tested without root.
type Interfaces func() (map[string][]netip.Addr, error)

// SystemInterfaces reads the interfaces of the current network namespace.
func SystemInterfaces() (map[string][]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := map[string][]netip.Addr{}
	for _, ifc := range ifs {
		out[ifc.Name] = nil
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if pn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(pn.IP); ok {
					out[ifc.Name] = append(out[ifc.Name], ip.Unmap())
				}
			}
		}
	}
	return out, nil
}

// AccessPolicy decides which interfaces the UI answers on: those matching
// the allowed patterns (LAN, VPN) and loopback. It decides by the
// interface a connection ARRIVED on, never by the address it was sent
// to: Linux accepts a packet for the LAN address on the WAN link (the
// weak host model), so a WAN neighbour that routes the LAN subnet to the
// box would otherwise reach the LAN-only pages. The firewall (netctl) is
// the first line; this is the second, and it holds without the firewall.
type AccessPolicy struct {
	patterns []string
	list     Interfaces
	// Extra names more allowed interfaces, read at each refresh (the
	// board's LAN ports, whose kernel names depend on probing).
	Extra func() []string

	mu      sync.Mutex
	names   []string                // allowed interfaces that exist now
	own     map[netip.Addr]struct{} // every address of every interface
	extra   []string
	readAt  time.Time
	changed []chan struct{}
}

// NewAccessPolicy allows the interfaces matching patterns (path.Match).
func NewAccessPolicy(patterns []string, list Interfaces) *AccessPolicy {
	if list == nil {
		list = SystemInterfaces
	}
	return &AccessPolicy{patterns: patterns, list: list}
}

// AllowedInterface reports whether connections arriving on interface name
// may be served. Loopback always may: only the box itself sends there
// (the kernel drops loopback addresses arriving on other links).
func (p *AccessPolicy) AllowedInterface(name string) bool {
	if name == "lo" {
		return true
	}
	if name == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freshLocked(30 * time.Second)
	return p.match(name) || slices.Contains(p.extra, name)
}

// Own reports whether a is one of the box's addresses (any interface).
func (p *AccessPolicy) Own(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	if a.IsLoopback() {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freshLocked(30 * time.Second)
	if _, ok := p.own[a]; ok {
		return true
	}
	// Unknown: the address may be new (DHCP, the VPN just came up); read
	// again, at most ten times a second so a flood costs little.
	p.freshLocked(100 * time.Millisecond)
	_, ok := p.own[a]
	return ok
}

// allowedNames are the allowed interfaces that exist now, loopback first.
func (p *AccessPolicy) allowedNames() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.freshLocked(time.Second)
	return append([]string{"lo"}, p.names...)
}

func (p *AccessPolicy) freshLocked(maxAge time.Duration) {
	if time.Since(p.readAt) > maxAge {
		p.refreshLocked()
	}
}

func (p *AccessPolicy) refreshLocked() {
	p.readAt = time.Now()
	all, err := p.list()
	if err != nil {
		slog.Warn("list interfaces", "err", err)
		return
	}
	p.extra = nil
	if p.Extra != nil {
		p.extra = p.Extra()
	}
	own := map[netip.Addr]struct{}{}
	var names []string
	for name, addrs := range all {
		if name != "lo" && (p.match(name) || slices.Contains(p.extra, name)) {
			names = append(names, name)
		}
		for _, a := range addrs {
			own[a.Unmap().WithZone("")] = struct{}{}
		}
	}
	slices.Sort(names)
	p.names, p.own = names, own
}

// SetPatterns replaces the allowed interface patterns (config reload).
func (p *AccessPolicy) SetPatterns(patterns []string) {
	p.mu.Lock()
	p.patterns = patterns
	p.refreshLocked()
	chans := p.changed
	p.mu.Unlock()
	for _, c := range chans {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// notify returns a channel that receives after each SetPatterns.
func (p *AccessPolicy) notify() <-chan struct{} {
	c := make(chan struct{}, 1)
	p.mu.Lock()
	p.changed = append(p.changed, c)
	p.mu.Unlock()
	return c
}

func (p *AccessPolicy) match(name string) bool {
	for _, pat := range p.patterns {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// ingressOf names the interface a TCP connection arrived on. Linux gives
// no per-packet ingress for TCP (IP_PKTINFO is for datagrams), but a
// socket bound with SO_BINDTODEVICE only ever accepts connections whose
// SYN arrived on that device, and accepted sockets inherit the binding:
// so the listener's device IS the ingress interface. An unbound socket
// proves nothing, except for loopback addresses, which the kernel never
// accepts from another link. "" means unknown: refuse.
func ingressOf(c net.Conn) string {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return ""
	}
	if rc, err := tc.SyscallConn(); err == nil {
		var dev string
		rc.Control(func(fd uintptr) {
			dev, _ = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
		})
		if dev != "" {
			return dev
		}
	}
	if la, ok := c.LocalAddr().(*net.TCPAddr); ok && la.IP.IsLoopback() {
		return "lo"
	}
	return ""
}

// ingressConn is an accepted connection with the interface it came in on.
type ingressConn struct {
	net.Conn
	iface string
}

// filterListener closes connections that did not arrive on an allowed
// interface, before a byte is read from them.
type filterListener struct {
	net.Listener
	policy  *AccessPolicy
	refused func()
	caps    *connCap // per source and interface: conncap.go; nil: none

	mu      sync.Mutex
	logged  time.Time
	dropped int
	// cappedLogged, capped: the same for connections over a cap (conncap.go)
	cappedLogged time.Time
	capped       int
}

func (l *filterListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if _, ok := c.LocalAddr().(*net.TCPAddr); !ok {
			return c, nil // unix sockets in tests
		}
		iface := ingressOf(c)
		if l.policy.AllowedInterface(iface) {
			if l.caps == nil {
				return ingressConn{c, iface}, nil
			}
			if cc, ok := l.caps.admit(c, iface); ok {
				return ingressConn{cc, iface}, nil
			}
			l.logCapped(c, iface)
			c.Close() // over its source's or interface's share
			continue
		}
		c.Close()
		if l.refused != nil {
			l.refused()
		}
		l.logRefused(c, iface)
	}
}

// logRefused logs refused connections, at most one line a minute.
func (l *filterListener) logRefused(c net.Conn, iface string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropped++
	if time.Since(l.logged) < time.Minute {
		return
	}
	if iface == "" {
		iface = "unknown"
	}
	slog.Warn("refused connection not on a LAN or VPN interface", "interface", iface, "local", c.LocalAddr().String(), "remote", c.RemoteAddr().String(), "refused_since_last_log", l.dropped)
	l.logged, l.dropped = time.Now(), 0
}
