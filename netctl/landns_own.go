package netctl

import (
	"net/netip"
	"slices"
	"sync"
)

// The box's own lookups (the gateway's PBX, the syslog and update
// servers, NTP names) go through resolv.conf, which cannot say "these
// domains to those servers". While a VPN's split DNS is in force, netctl
// answers them itself: a forwarder on a loopback address (the LAN's
// forwarder, not bound to a port) goes first in resolv.conf, the uplink's
// servers after it, so a dead forwarder costs a timeout and not the
// names. Without the VPN's DNS, resolv.conf is the uplink's, as before.

// ownDNSAddr is the loopback forwarder's address: 127.0.0.53, where
// Linux systems keep their local stub resolver.
var ownDNSAddr = netip.MustParseAddr("127.0.0.53")

// ownDNS is the loopback forwarder and the resolv.conf it goes into.
type ownDNS struct {
	mu      sync.Mutex
	addr    netip.Addr // ownDNSAddr; tests use another
	fwd     *lanDNS    // running while the VPN's DNS is in force
	uplink  string     // the resolv.conf's last uplink and its servers
	servers []netip.Addr
}

// writeResolv writes resolv.conf for uplink's servers, with the loopback
// forwarder first while it runs. Every write of resolv.conf goes here.
func (s *Service) writeResolv(uplink string, servers []netip.Addr) error {
	o := &s.ownDNS
	o.mu.Lock()
	defer o.mu.Unlock()
	o.uplink, o.servers = uplink, slices.Clone(servers)
	return s.writeResolvLocked()
}

func (s *Service) writeResolvLocked() error {
	o := &s.ownDNS
	servers := o.servers
	label := o.uplink
	if o.fwd != nil {
		servers = append([]netip.Addr{o.fwd.addr}, servers...)
		label += " and the VPN's DNS for its domains (netctl on " + o.fwd.addr.String() + ")"
	}
	return writeResolvConf(s.opts.ResolvConf, label, servers)
}

// syncOwnDNS starts or stops the loopback forwarder as the VPN's DNS
// comes and goes, and rewrites resolv.conf.
func (s *Service) syncOwnDNS(on bool) {
	o := &s.ownDNS
	o.mu.Lock()
	defer o.mu.Unlock()
	if on == (o.fwd != nil) {
		return
	}
	if on {
		addr := o.addr
		if !addr.IsValid() {
			addr = ownDNSAddr
		}
		fwd, err := startLANDNS(addr, hostname(), s.dnsServersFor, s.log.With("dns", "box"))
		if err != nil {
			s.log.Error("the box's own lookups keep the uplink's DNS: names in the VPN's domains do not resolve for the box itself", "err", err)
			return
		}
		o.fwd = fwd
	} else {
		o.fwd.stop()
		o.fwd = nil
	}
	if o.uplink == "" && o.servers == nil {
		return // no uplink yet: resolv.conf is written with the first
	}
	if err := s.writeResolvLocked(); err != nil {
		s.log.Error("dns", "err", err)
	}
}

// stopOwnDNS stops the loopback forwarder (netctl stopping).
func (s *Service) stopOwnDNS() {
	o := &s.ownDNS
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fwd != nil {
		o.fwd.stop()
		o.fwd = nil
	}
}
