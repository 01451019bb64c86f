package gateway

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"

	"edgebox/internal/config"
)

// A PBX given by name may resolve to several addresses (a cluster, a
// moved server with its old record still in, IPv4 and IPv6). The SIP
// stack took the first and nothing else: with one of two dead, half the
// boxes never registered. As RFC 3263 4.3 asks, the trunk tries them in
// order, moving on when one does not answer, keeps to the one that
// answered, and resolves the name again at each registration. Calls and
// keepalives go to the address the trunk registered at; new requests are
// taken from any of the name's addresses.

// pbxResolver resolves a PBX given by name (tests point it at a DNS
// server of their own).
var pbxResolver = net.DefaultResolver

// pbxTryWait bounds a REGISTER's wait at one address of several before
// the next is tried; the last one gets the full wait.
var pbxTryWait = 5 * time.Second

// resolveWait bounds one resolution of the PBX's name.
const resolveWait = 5 * time.Second

// pbxTargets are the host:port destinations to try for the PBX, in
// order: the address itself when it is one; the name's addresses
// otherwise. Over TLS the name stays (the PBX's certificate is checked
// against it, not against an address). A name that does not resolve
// gives the name alone: sending to it then says why.
func pbxTargets(ctx context.Context, p config.GatewayPBX) []string {
	hp := p.HostPort()
	host, port, err := net.SplitHostPort(hp)
	if err != nil || p.Transport == "tls" {
		return []string{hp}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{hp}
	}
	ctx, cancel := context.WithTimeout(ctx, resolveWait)
	defer cancel()
	ips, err := pbxResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return []string{hp}
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.Unmap().String(), port))
	}
	return out
}

// pbxAddrState is which of the PBX's addresses the trunk uses, and which
// did not answer at the last registration.
type pbxAddrState struct {
	mu     sync.Mutex
	inUse  string   // host:port that answered the last REGISTER
	failed []string // "host:port: why" of the addresses passed over
}

func (a *pbxAddrState) get() (string, []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inUse, append([]string(nil), a.failed...)
}

func (a *pbxAddrState) set(inUse string, failed []string) {
	a.mu.Lock()
	a.inUse, a.failed = inUse, failed
	a.mu.Unlock()
}

// orderTargets puts the address that answered last first, the others in
// the resolver's order.
func orderTargets(targets []string, last string) []string {
	for i, t := range targets {
		if t == last && i > 0 {
			out := append([]string{t}, targets[:i]...)
			return append(out, targets[i+1:]...)
		}
	}
	return targets
}

// pbxDest is where a request to the PBX goes: the address the trunk
// registered at, else the configured address (the SIP stack resolves a
// name).
func (s *Service) pbxDest(p config.GatewayPBX) string {
	s.mu.Lock()
	r := s.reg
	s.mu.Unlock()
	if r != nil {
		if a, _ := r.addrs.get(); a != "" {
			return a
		}
	}
	return p.HostPort()
}

// pbxDest is Service.pbxDest for the stack's requests.
func (st *sipStack) pbxDest(p config.GatewayPBX) string {
	if st.svc == nil {
		return p.HostPort()
	}
	return st.svc.pbxDest(p)
}

// prefixesOf are the host addresses of host:port targets (names skipped).
func prefixesOf(targets []string) []netip.Prefix {
	var out []netip.Prefix
	for _, t := range targets {
		host, _, err := net.SplitHostPort(t)
		if err != nil {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out
}
