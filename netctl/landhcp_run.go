package netctl

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"edgebox/api/netapi"
	"edgebox/internal/atomicfile"
	"edgebox/internal/config"
)

// lanDHCP runs the DHCP server of one LAN port: one socket bound to the
// port, one goroutine answering packets in turn (a flood costs no more
// than one goroutine), leases written to /perm after every change.
type lanDHCP struct {
	key  string // the settings it runs with
	file string
	dns  *lanDNS // nil when the box's DNS could not start
	conn net.PacketConn
	log  *slog.Logger
	done chan struct{}

	mu   sync.Mutex
	pool *leasePool
	err  string // last error storing the leases
	// lastStore and storeTimer space the stores of the leases: see
	// storeSoon.
	lastStore  time.Time
	storeTimer *time.Timer
	stores     int // how many were made (tests)

	logged map[string]string // MAC -> address last logged (serve's own)
}

// firstLog says whether the lease of mac to addr is news for the log: a
// host that released and asked again in a loop logged a line each time.
func (l *lanDHCP) firstLog(mac, addr string) bool {
	if l.logged == nil || len(l.logged) >= 1024 {
		l.logged = map[string]string{}
	}
	if l.logged[mac] == addr {
		return false
	}
	l.logged[mac] = addr
	return true
}

// leaseFile is where the leases of a LAN port are kept.
func leaseFile(dir, iface string) string { return filepath.Join(dir, "lan-leases-"+iface+".json") }

// readLeases loads stored leases. A damaged file is kept aside (.bad) for
// a look, and the server starts with none.
func readLeases(file string, log *slog.Logger) []netapi.LANLease {
	data, err := os.ReadFile(file)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("LAN DHCP leases unreadable; starting with none", "file", file, "err", err)
		}
		return nil
	}
	var ls []netapi.LANLease
	if err := json.Unmarshal(data, &ls); err != nil {
		log.Warn("LAN DHCP leases damaged; kept as .bad, starting with none", "file", file, "err", err)
		os.Rename(file, file+".bad")
		return nil
	}
	return ls
}

// listenLANDHCP opens a LAN port's DHCP socket (tests replace it).
var listenLANDHCP = func(iface string, addr *net.UDPAddr) (net.PacketConn, error) {
	c, err := server4.NewIPv4UDPConn(iface, addr)
	if err != nil {
		return nil, err // not a nil *UDPConn in an interface
	}
	return c, nil
}

func startLANDHCP(key, iface string, pool *leasePool, dir string, dns *lanDNS, log *slog.Logger) (*lanDHCP, error) {
	l := &lanDHCP{key: key, file: leaseFile(dir, iface), pool: pool, dns: dns, log: log, done: make(chan struct{})}
	pool.load(readLeases(l.file, log), time.Now())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("LAN DHCP on %s: %w", iface, err)
	}
	conn, err := listenLANDHCP(iface, &net.UDPAddr{Port: dhcpv4.ServerPort})
	if err != nil {
		return nil, fmt.Errorf("LAN DHCP on %s: %w", iface, err)
	}
	l.conn = conn
	go l.serve()
	log.Info("LAN DHCP server up", "first", pool.first, "last", pool.last, "lease", pool.leaseTime, "leases", len(pool.list(time.Now())))
	return l, nil
}

func (l *lanDHCP) serve() {
	defer close(l.done)
	buf := make([]byte, 4096)
	for {
		n, _, err := l.conn.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.log.Error("LAN DHCP server stopped", "err", err)
			}
			return
		}
		m, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			l.log.Debug("LAN DHCP: not a DHCP packet, ignored", "bytes", n, "err", err)
			continue
		}
		now := time.Now()
		l.mu.Lock()
		reply, changed := l.pool.answer(m, now)
		subnet := l.pool.subnet
		l.mu.Unlock()
		if changed {
			l.storeSoon(now)
		}
		if reply == nil {
			continue
		}
		if reply.MessageType() == dhcpv4.MessageTypeAck && changed && l.firstLog(m.ClientHWAddr.String(), reply.YourIPAddr.String()) {
			l.log.Info("LAN DHCP lease", "mac", m.ClientHWAddr.String(), "address", reply.YourIPAddr, "host", m.HostName())
		}
		if _, err := l.conn.WriteTo(reply.ToBytes(), replyTo(m, reply, subnet)); err != nil {
			l.log.Warn("LAN DHCP reply", "to", m.ClientHWAddr.String(), "err", err)
		}
	}
}

// storeSpacing is the least time between two stores of the leases. A
// change is stored at once, but one within storeSpacing of the last store
// waits for its end, with every other change meanwhile: a LAN host that
// sent RELEASE and REQUEST in a loop (or REQUESTs from ever new MACs)
// wrote /perm, each write synced, as fast as it sent them, and the
// server answered no one else meanwhile (sixth review).
var storeSpacing = time.Second

// storeSoon stores the leases now, or at the end of storeSpacing after
// the last store.
func (l *lanDHCP) storeSoon(now time.Time) {
	l.mu.Lock()
	if l.storeTimer != nil {
		l.mu.Unlock()
		return // a store is due: it takes this change too
	}
	if wait := l.lastStore.Add(storeSpacing).Sub(now); wait > 0 {
		l.storeTimer = time.AfterFunc(wait, func() {
			l.mu.Lock()
			l.storeTimer = nil
			l.mu.Unlock()
			l.storeSoon(time.Now())
		})
		l.mu.Unlock()
		return
	}
	l.lastStore = now
	leases := l.pool.list(now)
	l.stores++
	l.mu.Unlock()
	l.store(leases)
}

func (l *lanDHCP) store(leases []netapi.LANLease) {
	data, err := json.MarshalIndent(leases, "", "  ")
	if err == nil {
		err = atomicfile.WriteFile(l.file, append(data, '\n'), 0o644)
	}
	l.mu.Lock()
	l.err = ""
	if err != nil {
		l.err = "storing the leases: " + err.Error()
	}
	l.mu.Unlock()
	if err != nil {
		l.log.Error("LAN DHCP leases not stored", "file", l.file, "err", err)
	}
}

func (l *lanDHCP) stop() {
	l.conn.Close()
	<-l.done
	if l.dns != nil {
		l.dns.stop()
	}
}

func (l *lanDHCP) status() (netapi.LANDHCPServer, []netapi.LANLease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pool
	return netapi.LANDHCPServer{Interface: p.iface, First: p.first.String(), Last: p.last.String(),
		LeaseSec: int(p.leaseTime / time.Second), Running: !l.stopped(), Error: l.err}, p.list(time.Now())
}

// syncLANDHCPLocked runs a DHCP server on every LAN port that has its
// address and does not have dhcp.off, restarting those whose settings
// changed. A port whose server cannot start, or whose server stopped, is
// tried again within lanDHCPRetryAfter (landhcp_state.go), and at the next
// LAN change.
func (s *Service) syncLANDHCPLocked() {
	if s.lanDHCP == nil {
		s.lanDHCP = map[string]*lanDHCP{}
	}
	s.lanDHCPErr = map[string]string{}
	want := map[string]bool{}
	for i, p := range s.cfg.LAN {
		if i >= len(s.lan) || s.lan[i].Address == "" || p.DHCP.Off {
			continue
		}
		iface := s.lan[i].Interface
		port := netip.MustParsePrefix(p.Address)
		first, last := p.DHCP.Pool(port)
		leaseSec := p.DHCP.LeaseSec
		if leaseSec == 0 {
			leaseSec = config.DefaultLeaseSec
		}
		key := fmt.Sprint(port, first, last, leaseSec, s.cfg.Router)
		want[iface] = true
		if cur := s.lanDHCP[iface]; cur != nil {
			if cur.key == key && !cur.stopped() {
				continue
			}
			cur.stop()
			delete(s.lanDHCP, iface)
		}
		pool := newLeasePool(iface, port, first, last, time.Duration(leaseSec)*time.Second)
		pool.router = s.cfg.Router
		log := s.log.With("lan", iface)
		dns, err := startLANDNSOn(iface, port.Addr(), hostname(), s.dnsServersFor, log)
		if err == nil {
			pool.dns = []netip.Addr{port.Addr()} // the box answers for its names and forwards the rest
		} else {
			log.Error("LAN DNS not running: clients get the uplink's DNS servers and the box's name does not resolve", "err", err)
			pool.dns = s.upstreamDNS()
		}
		l, err := startLANDHCP(key, iface, pool, s.opts.LeaseDir, dns, log)
		if err != nil {
			if dns != nil {
				dns.stop()
			}
			s.lanDHCPErr[iface] = err.Error()
			s.log.Error("LAN DHCP server", "iface", iface, "err", err)
			continue
		}
		s.lanDHCP[iface] = l
		go s.retryWhenStopped(iface, l)
	}
	for iface, l := range s.lanDHCP {
		if !want[iface] {
			l.stop()
			delete(s.lanDHCP, iface)
			s.log.Info("LAN DHCP server off", "iface", iface)
		}
	}
	s.retryLANDHCPLocked()
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// upstreamDNS is the active uplink's DNS servers, for the LAN's queries
// the box forwards. It takes no lock: DNS goroutines call it while the
// service may hold its lock to stop them.
func (s *Service) upstreamDNS() []netip.Addr {
	if p := s.lanUpstream.Load(); p != nil {
		return *p
	}
	return nil
}

// stopLANDHCPLocked stops every LAN DHCP server (netctl stopping); the
// leases are on disk already.
func (s *Service) stopLANDHCPLocked() {
	if s.lanDHCPRetry != nil {
		s.lanDHCPRetry.Stop()
		s.lanDHCPRetry = nil
	}
	for iface, l := range s.lanDHCP {
		l.stop()
		delete(s.lanDHCP, iface)
	}
}

// LANLeases returns the LAN DHCP servers and their current leases.
func (s *Service) LANLeases() LANLeases {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := LANLeases{Servers: []netapi.LANDHCPServer{}, Leases: []netapi.LANLease{}}
	for _, l := range s.lanDHCP {
		st, leases := l.status()
		out.Servers = append(out.Servers, st)
		out.Leases = append(out.Leases, leases...)
	}
	for iface, e := range s.lanDHCPErr {
		out.Servers = append(out.Servers, netapi.LANDHCPServer{Interface: iface, Error: e})
	}
	slices.SortFunc(out.Servers, func(a, b netapi.LANDHCPServer) int { return cmp.Compare(a.Interface, b.Interface) })
	return out
}
