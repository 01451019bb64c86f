package netctl

import (
	"slices"
	"time"

	"edgebox/api/netapi"
)

// A LAN DHCP server that could not start (its port taken, its folder not
// writable) was tried again only at the next LAN change, and the LAN's
// status said nothing about it: the wizard's LAN step showed the port's
// address as working while no device on the LAN got an address. The
// status now says whether each port's server serves, and a failed one is
// tried again.

// lanDHCPRetryAfter is how soon a LAN DHCP server that failed is retried.
var lanDHCPRetryAfter = 10 * time.Second

// stopped reports whether the server's loop has ended (a read error).
func (l *lanDHCP) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// retryLANDHCPLocked schedules another sync while a server is not
// running that should. s.mu is held.
func (s *Service) retryLANDHCPLocked() {
	failed := len(s.lanDHCPErr) > 0
	for _, l := range s.lanDHCP {
		failed = failed || l.stopped()
	}
	if !failed || s.lanDHCPRetry != nil {
		return
	}
	s.lanDHCPRetry = time.AfterFunc(lanDHCPRetryAfter, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.lanDHCPRetry = nil
		if s.ctx == nil || s.ctx.Err() != nil {
			return // netctl is stopping: its servers stay down
		}
		s.syncLANDHCPLocked()
	})
}

// retryWhenStopped schedules a retry when l's loop ends by itself (a read
// error) while it is still the port's server: a server stopped by netctl
// (a LAN change, netctl stopping) is no longer in s.lanDHCP by then.
// Before, only a sync noticed a stopped server, and none came until the
// next LAN change, though the status said it is started again.
func (s *Service) retryWhenStopped(iface string, l *lanDHCP) {
	<-l.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lanDHCP[iface] == l {
		s.retryLANDHCPLocked()
	}
}

// lanStatusLocked is the LAN ports with their DHCP servers. s.mu is held.
func (s *Service) lanStatusLocked() []netapi.LANStatus {
	st := slices.Clone(s.lan)
	for i := range st {
		iface := st[i].Interface
		switch l, e := s.lanDHCP[iface], s.lanDHCPErr[iface]; {
		case e != "":
			st[i].DHCP, st[i].DHCPError = "not running", e
		case l != nil && l.stopped():
			st[i].DHCP, st[i].DHCPError = "not running", "the DHCP server stopped (see netctl's log); it is started again"
		case l != nil:
			st[i].DHCP = "serving"
		case i < len(s.cfg.LAN) && s.cfg.LAN[i].DHCP.Off:
			st[i].DHCP = "off"
		}
	}
	return st
}
