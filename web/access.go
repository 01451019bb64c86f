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
)

var errNotLAN = errors.New("only answered on the LAN or VPN, or with an admin token")

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

// AccessPolicy decides which local addresses the UI answers on: those of
// interfaces matching the allowed patterns (LAN, VPN) and loopback. The
// firewall (netctl) is the first line; this is the second, so that a
// mistake in one does not put the admin UI on the internet.
type AccessPolicy struct {
	patterns []string
	list     Interfaces
	// Extra names more allowed interfaces, read at each refresh (the
	// board's LAN ports, whose kernel names depend on probing).
	Extra func() []string

	mu      sync.Mutex
	allowed map[netip.Addr]string // address -> interface
	readAt  time.Time
}

// NewAccessPolicy allows the interfaces matching patterns (path.Match).
func NewAccessPolicy(patterns []string, list Interfaces) *AccessPolicy {
	if list == nil {
		list = SystemInterfaces
	}
	return &AccessPolicy{patterns: patterns, list: list}
}

// Allowed reports whether a connection to local address a may be served,
// and through which interface.
func (p *AccessPolicy) Allowed(a netip.Addr) (string, bool) {
	a = a.Unmap().WithZone("")
	if a.IsLoopback() {
		return "lo", true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ifc, ok := p.allowed[a]; ok && time.Since(p.readAt) < 30*time.Second {
		return ifc, true
	}
	// Unknown or stale: interfaces come and go (tun0 when the VPN
	// connects, DHCP renumbering), so read them again, at most ten times
	// a second so a flood of refused connections costs little.
	if time.Since(p.readAt) > 100*time.Millisecond {
		p.refreshLocked()
	}
	ifc, ok := p.allowed[a]
	return ifc, ok
}

func (p *AccessPolicy) refreshLocked() {
	p.readAt = time.Now()
	all, err := p.list()
	if err != nil {
		slog.Warn("list interfaces", "err", err)
		return
	}
	var extra []string
	if p.Extra != nil {
		extra = p.Extra()
	}
	m := map[netip.Addr]string{}
	for name, addrs := range all {
		if !p.match(name) && !slices.Contains(extra, name) {
			continue
		}
		for _, a := range addrs {
			m[a.Unmap().WithZone("")] = name
		}
	}
	p.allowed = m
}

// SetPatterns replaces the allowed interface patterns (config reload).
func (p *AccessPolicy) SetPatterns(patterns []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.patterns = patterns
	p.refreshLocked()
}

func (p *AccessPolicy) match(name string) bool {
	for _, pat := range p.patterns {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// filterListener closes connections that arrive at an address the policy
// does not allow, before a byte is read from them.
type filterListener struct {
	net.Listener
	policy  *AccessPolicy
	refused func()

	mu      sync.Mutex
	logged  time.Time
	dropped int
}

func (l *filterListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		local, ok := c.LocalAddr().(*net.TCPAddr)
		if !ok {
			return c, nil // unix sockets in tests
		}
		a, _ := netip.AddrFromSlice(local.IP)
		if _, ok := l.policy.Allowed(a); ok {
			return c, nil
		}
		c.Close()
		if l.refused != nil {
			l.refused()
		}
		l.logRefused(c)
	}
}

// logRefused logs refused connections, at most one line a minute.
func (l *filterListener) logRefused(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropped++
	if time.Since(l.logged) < time.Minute {
		return
	}
	slog.Warn("refused connection not on a LAN or VPN interface", "local", c.LocalAddr().String(), "remote", c.RemoteAddr().String(), "refused_since_last_log", l.dropped)
	l.logged, l.dropped = time.Now(), 0
}
