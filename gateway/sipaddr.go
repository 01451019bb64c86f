package gateway

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/vishvananda/netlink"
)

// sipEndpoint is what the box puts in Via and Contact for one transport.
// A listener on a wildcard address follows the uplink: when failover moves
// the route toward the PBX (WAN cable pulled -> LTE, and back), the host
// becomes the address of the new uplink, so the PBX's requests reach the
// box where it is now.
type sipEndpoint struct {
	transport string
	follow    bool   // wildcard listener: host is the source address toward the PBX
	port      int    // the listener's port
	connAddr  string // UDP: the listener's socket, which requests leave from
	host      string
	cli       *sipgo.Client // sends with Via host:port
	contact   sip.ContactHeader
}

// routeCheckEvery bounds how long a move goes unnoticed when no route
// update arrives (netlink unavailable, or a change it does not report).
const routeCheckEvery = 15 * time.Second

// setEndpointHost points ep's Via and Contact at host. A sipgo client
// keeps its Via host for life, so a new one is made (clients are handles
// on the shared user agent and its sockets: cheap, nothing to close).
func (s *sipStack) setEndpointHost(ep *sipEndpoint, host string) error {
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(host), sipgo.WithClientPort(ep.port), sipgo.WithClientLogger(s.log)}
	if ep.connAddr != "" {
		opts = append(opts, sipgo.WithClientConnectionAddr(ep.connAddr))
	}
	cli, err := sipgo.NewClient(s.ua, opts...)
	if err != nil {
		return err
	}
	c := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "edgebox", Host: host, Port: ep.port}}
	if ep.transport != "udp" {
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", ep.transport)
	}
	ep.host, ep.cli, ep.contact = host, cli, c
	return nil
}

// endpoint is the client and Contact for a new request to the PBX over
// transport, after checking which address the box uses toward the PBX
// now (a UDP connect: no packet sent).
func (s *sipStack) endpoint(transport string) (*sipgo.Client, sip.ContactHeader, error) {
	s.refreshEndpoints()
	s.mu.Lock()
	defer s.mu.Unlock()
	ep := s.endpoints[transport]
	if ep == nil {
		return nil, sip.ContactHeader{}, fmt.Errorf("no SIP listener for transport %s toward the PBX", transport)
	}
	return ep.cli, ep.contact, nil
}

// refreshEndpoints moves the following endpoints to the current source
// address toward the PBX and, when any moved, wakes the registration
// (whoever noticed first: a dial, the route watch, a refresh). With no route to
// the PBX at all (both uplinks down) they stay where they were: there is
// nothing better to announce.
func (s *sipStack) refreshEndpoints() bool {
	src, err := routeSource(s.pbx)
	if err != nil {
		return false
	}
	host := src.String()
	moved := false
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ep := range s.endpoints {
		if !ep.follow || ep.host == host {
			continue
		}
		old := ep.host
		if err := s.setEndpointHost(ep, host); err != nil {
			s.log.Warn("sip: cannot follow the new address toward the PBX", "from", old, "to", host, "err", err)
			continue
		}
		s.log.Info("sip: the address toward the PBX moved", "transport", ep.transport, "from", old, "to", host)
		moved = true
	}
	if moved {
		select {
		case s.moved <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return moved
}

// routeSource is the local address the kernel picks to reach addr (a UDP
// "connect" only looks the route up).
func routeSource(addr string) (netip.Addr, error) {
	if addr == "" {
		return netip.Addr{}, fmt.Errorf("no PBX address")
	}
	// an address (the usual PBX setting) without net's descriptor; a
	// name, or an IPv6 zone, through net.Dial, which resolves them
	if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Zone() == "" {
		return routeSourceOf(ap)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// localIPToward is the local address the box uses to reach addr, or
// 127.0.0.1 when there is no route.
func localIPToward(addr string) string {
	a, err := routeSource(addr)
	if err != nil {
		return "127.0.0.1"
	}
	return a.String()
}

// watchRoutes re-checks the address toward the PBX on every route or
// address change the kernel reports (and every routeCheckEvery in any
// case). It ends with ctx.
func (s *sipStack) watchRoutes(ctx context.Context) {
	done := make(chan struct{})
	defer close(done)
	routes := make(chan netlink.RouteUpdate, 64)
	addrs := make(chan netlink.AddrUpdate, 64)
	if err := netlink.RouteSubscribe(routes, done); err != nil {
		s.log.Debug("sip: no route updates, checking every interval", "err", err)
		routes = nil
	}
	if err := netlink.AddrSubscribe(addrs, done); err != nil {
		s.log.Debug("sip: no address updates, checking every interval", "err", err)
		addrs = nil
	}
	tick := time.NewTicker(routeCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-routes:
			if !ok {
				routes = nil
			}
		case _, ok := <-addrs:
			if !ok {
				addrs = nil
			}
		case <-tick.C:
		}
		s.refreshEndpoints()
	}
}
