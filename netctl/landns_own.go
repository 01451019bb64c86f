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
// forwarder, not bound to a port) is resolv.conf's only server; it asks
// the uplink's servers for every other name. The uplink's servers are
// not listed after it: a stub resolver (Go's, glibc's) asks the next
// server after a SERVFAIL, so a company name the VPN's servers did not
// answer went to the uplink's DNS, leaked and perhaps answered with a
// public address. Without the VPN's DNS, resolv.conf is the uplink's.
//
// The VPN's pushed DOMAIN (and search domains) are the forwarder's
// search domains for single-label names (landns_short.go), as on the
// office's PCs: a config naming the PBX "pbx" resolves as
// pbx.corp.example. Not a search line in resolv.conf: a resolver then
// also tries every name that failed in the company's domain.

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

// writeResolv writes resolv.conf for uplink's servers, or for the
// loopback forwarder while it runs. Every write of resolv.conf goes here.
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
		servers = []netip.Addr{o.fwd.addr}
		label += " and the VPN's DNS for its domains (netctl on " + o.fwd.addr.String() + " asks both)"
	}
	return writeResolvConf(s.opts.ResolvConf, label, servers)
}

// rewriteResolvLocked rewrites resolv.conf after the forwarder came or
// went, once an uplink has written it.
func (s *Service) rewriteResolvLocked() {
	o := &s.ownDNS
	if o.uplink == "" && o.servers == nil {
		return // no uplink yet: resolv.conf is written with the first
	}
	if err := s.writeResolvLocked(); err != nil {
		s.log.Error("dns", "err", err)
	}
}

// dropOwnDNSLocked takes the forwarder out of resolv.conf, then stops
// it: no lookup is sent to it while it is gone.
func (s *Service) dropOwnDNSLocked() {
	o := &s.ownDNS
	fwd := o.fwd
	o.fwd = nil
	s.rewriteResolvLocked()
	fwd.stop()
}

// syncOwnDNS starts or stops the loopback forwarder as the VPN's DNS
// comes and goes, and rewrites resolv.conf; search are the VPN's search
// domains for single-label names.
func (s *Service) syncOwnDNS(on bool, search []string) {
	o := &s.ownDNS
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fwd != nil {
		o.fwd.setSearch(search)
	}
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
		fwd.setSearch(search)
		o.fwd = fwd
		s.rewriteResolvLocked()
	} else {
		s.dropOwnDNSLocked()
	}
}

// stopOwnDNS stops the loopback forwarder (netctl stopping) and leaves
// resolv.conf with the uplink's servers, not with a forwarder that no
// longer answers.
func (s *Service) stopOwnDNS() {
	o := &s.ownDNS
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fwd != nil {
		s.dropOwnDNSLocked()
	}
}
