// Package netctl gets an edgebox online and keeps it there: LAN ports with
// static addresses, the wired WAN (DHCP or static) and the 3G/LTE modem as
// uplinks in order of preference, a DHCPv4 client with the full lease
// lifecycle, health probes and failover of the default route, DNS, and the
// nftables firewall. It serves its API on /run/edgebox/netctl.sock.
package netctl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"edgebox/api/netapi"
	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/paths"
)

// UplinkChange is passed to OnUplinkChange callbacks when the default
// route moves (Name "" means the box is offline).
type UplinkChange struct {
	Name    string
	Iface   string
	Address netip.Prefix
	Gateway netip.Addr
	DNS     []netip.Addr
	NTP     []netip.Addr // time servers from the uplink's DHCP (option 42)
}

// Options configures a Service.
type Options struct {
	// ConfigPath is config.json; Reload re-reads it.
	ConfigPath string
	// Config, when set, is the config to start with (already loaded and
	// validated by the service skeleton) instead of reading ConfigPath.
	Config *config.Config
	// ResolvConf is where DNS of the active uplink is written.
	ResolvConf string
	// Roles maps NIC roles to interface names (from the board profile);
	// network.interfaces in the config overrides entries.
	Roles map[string]string
	// FindRole looks a role missing from Roles up again (nil: Roles is
	// all there is).
	FindRole func(role string) string
	// NoFirewall (debugging only) replaces init's fail-closed boot table
	// with one that filters nothing and only masquerades in router mode.
	NoFirewall bool
	// Modems opens the modem; nil uses the real modem package.
	Modems ModemOpener
	// SMSDir stores received SMS (modem.Options.SMSDir).
	SMSDir string
	// ModemStateDir keeps the modem's own state, e.g. the record of PINs
	// the SIM rejected (modem.Options.StateDir); created 0700. Default
	// paths.DataDir()/modem, never the SMS folder.
	ModemStateDir string
	// SlotReset returns the pulse of the reset line of board slot name
	// (boards.Profile.SlotReset), nil when it has none; the modem engine's
	// recovery ends with the one of the slot the modem is in (slot.go).
	SlotReset func(slot string) func() error
	// ModemSlots are the board's mini-PCIe slots with their USB map: the
	// modem's status says which one holds it (slot.go).
	ModemSlots []boards.ModemSlot
	// LeaseDir keeps the LAN DHCP server's leases; default
	// paths.DataDir()/dhcp.
	LeaseDir string
	Log      *slog.Logger
}

// Service is netctl. Create with New, mount extra API routes on Mux (e.g.
// /v1/vpn/), append OnUplinkChange callbacks, then Run.
type Service struct {
	opts Options
	log  *slog.Logger
	// Mux serves netctl's API; other parts mount their routes on it.
	Mux *http.ServeMux
	// OnUplinkChange is called (in its own goroutine) when the default
	// route moves. Append before Run.
	OnUplinkChange []func(UplinkChange)

	kick chan struct{}

	mu        sync.Mutex
	ctx       context.Context
	cfg       config.Network
	uplinks   []*uplink
	active    *uplink
	activeKey string
	routeErr  string // last default-route error, logged once
	switches  int
	lan       []netapi.LANStatus
	// LAN DHCP servers by interface (landhcp_run.go), and why a port has none.
	lanDHCP    map[string]*lanDHCP
	lanDHCPErr map[string]string
	// lanDHCPRetry tries the servers that could not start again.
	lanDHCPRetry *time.Timer
	// lanUpstream is the active uplink's DNS, where the LAN's queries go.
	lanUpstream atomic.Pointer[[]netip.Addr]
	// vpnDNS is the connected VPN's DNS for its domains (landns_vpn.go),
	// ownDNS the box's own lookups' share of it (landns_own.go).
	vpnDNS    atomic.Pointer[vpnDNS]
	ownDNS    ownDNS
	fw        netapi.FirewallStatus
	fwPlan    *firewallPlan
	lastCheck time.Time
	modem     *modemManager
	// voiceModems are the voice-only modems by slot (modem_voice.go).
	voiceModems map[string]*modemManager
	// Source routing (policyroute.go): the kernel, and the key and error
	// of the last run.
	policy    policyKernel
	sourceKey string
	sourceErr string
	// modemSlotCfg is network.modem.slot in force, read by the modem's
	// slot reset without s.mu (it runs inside the modem's recovery).
	modemSlotCfg atomic.Pointer[string]
}

// New loads the config and prepares the service; nothing is touched yet.
func New(opts Options) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.ResolvConf == "" {
		opts.ResolvConf = "/etc/resolv.conf"
	}
	if opts.ModemStateDir == "" {
		opts.ModemStateDir = filepath.Join(paths.DataDir(), "modem")
	}
	if opts.LeaseDir == "" {
		opts.LeaseDir = filepath.Join(paths.DataDir(), "dhcp")
	}
	c := opts.Config
	if c == nil {
		var err error
		if c, err = config.Load(opts.ConfigPath); err != nil {
			return nil, err
		}
	}
	s := &Service{opts: opts, log: opts.Log, Mux: http.NewServeMux(), kick: make(chan struct{}, 1), cfg: c.Network, policy: newNetlinkPolicy()}
	s.modemSlotCfg.Store(&c.Network.Modem.Slot)
	if s.opts.Modems == nil {
		s.opts.Modems = realModems{smsDir: opts.SMSDir, stateDir: opts.ModemStateDir, slotReset: s.modemSlotReset, log: opts.Log,
			slotOf: s.deviceSlot, slotResetFor: s.voiceSlotReset}
	}
	s.routes()
	return s, nil
}

// Config returns the network section in use.
func (s *Service) Config() config.Network {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// ifaceFor resolves a role to an interface name: explicit, config map, board.
func (s *Service) ifaceFor(cfg config.Network, explicit, role string) string {
	if explicit != "" {
		return explicit
	}
	if n := cfg.Interfaces[role]; n != "" {
		return n
	}
	return s.roleIface(role)
}

// roleIface is the interface of a board role. A port that was absent when
// netctl started (a USB NIC whose driver loads after the services, as the
// LTE card's network port does) is looked for again in sysfs.
func (s *Service) roleIface(role string) string {
	if n := s.opts.Roles[role]; n != "" || s.opts.FindRole == nil {
		return n
	}
	return s.opts.FindRole(role)
}

// Run brings the network up and keeps it up until ctx ends; then it takes
// the modem's link down and switches its radio off.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()

	links := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) { s.log.Error("netlink link events", "err", err) },
	}); err != nil {
		return fmt.Errorf("subscribe to link events: %w", err)
	}
	s.mu.Lock()
	s.applyLocked(s.cfg)
	s.mu.Unlock()
	s.wake()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case u, ok := <-links:
			if !ok {
				return errors.New("netlink link events stopped")
			}
			s.linkEvent(u)
		case <-s.kick:
			s.evaluate()
		case <-tick.C:
			s.evaluate()
		}
	}
}

// Reload re-reads the config file and applies it; a config that does not
// validate is refused and the running one kept.
func (s *Service) Reload() error {
	c, err := config.Load(s.opts.ConfigPath)
	if err != nil {
		s.log.Error("config rejected, keeping the running one", "err", err)
		return err
	}
	s.Apply(c.Network)
	s.log.Info("config reloaded")
	return nil
}

// Apply makes the running state follow a validated network section.
func (s *Service) Apply(cfg config.Network) {
	s.mu.Lock()
	s.applyLocked(cfg)
	s.mu.Unlock()
	s.wake()
}

// applyLocked makes the running state follow cfg: LAN addresses, the
// uplinks (rebuilding those whose settings changed), the modem and the
// firewall.
func (s *Service) applyLocked(cfg config.Network) {
	old := s.cfg
	s.cfg = cfg
	s.modemSlotCfg.Store(&cfg.Modem.Slot)
	s.applyLANLocked()

	want := s.buildUplinks(cfg)
	var keep []*uplink
	for _, w := range want {
		var cur *uplink
		for _, u := range s.uplinks {
			if u.Name == w.Name {
				cur = u
			}
		}
		if cur != nil && w.Name == "modem" && w.Iface == "" {
			w.Iface = cur.Iface // found by the modem manager, not configured
		}
		if cur != nil && sameUplink(cur, w) {
			if !slices.Equal(cur.targets, w.targets) && cur.stopProbe != nil {
				cur.stopProbe() // restarted with the new targets by evaluate
				cur.stopProbe = nil
			}
			if cur.Index != w.Index && cur.Iface != "" {
				deleteStaticRoutes(cur.Iface) // re-added below at the new metric
			}
			cur.Index, cur.targets = w.Index, w.targets
			keep = append(keep, cur)
			continue
		}
		if cur != nil {
			s.stopUplinkLocked(cur)
		}
		keep = append(keep, w)
		s.startUplinkLocked(w)
	}
	for _, u := range s.uplinks {
		if !slices.Contains(keep, u) {
			s.stopUplinkLocked(u)
		}
	}
	s.uplinks = keep
	if s.active != nil && !slices.Contains(keep, s.active) {
		s.active, s.activeKey = nil, ""
	}
	s.activeKey = "" // metrics may have moved: reprogram the default route
	for _, u := range s.uplinks {
		if u.addr != nil {
			s.programRoutesLocked(u)
		}
	}
	s.configureModemLocked(old, cfg)
	s.applyFirewallLocked()
}

func sameUplink(a, b *uplink) bool {
	if a.Iface != b.Iface || a.Method != b.Method || !slices.Equal(a.extraDNS, b.extraDNS) {
		return false
	}
	if (a.static == nil) != (b.static == nil) || a.static != nil && !a.static.Equal(*b.static) {
		return false
	}
	return true
}

// buildUplinks turns the config into uplinks in order of preference.
func (s *Service) buildUplinks(cfg config.Network) []*uplink {
	var out []*uplink
	targets := func(specific []string) []healthTarget {
		src := cfg.Health.Targets
		if len(specific) > 0 {
			src = specific
		}
		var t []healthTarget
		for _, x := range src {
			if ht, err := parseHealthTarget(x); err == nil {
				t = append(t, ht)
			}
		}
		return t
	}
	for i, name := range cfg.Uplinks {
		switch name {
		case "wan":
			w := cfg.WAN
			if !w.Enabled {
				continue
			}
			role := w.Role
			if role == "" {
				role = "wan"
			}
			u := &uplink{Name: "wan", Index: i, Iface: s.ifaceFor(cfg, w.Interface, role), Method: w.Method, targets: targets(w.HealthTargets)}
			for _, d := range w.DNS {
				if a, err := netip.ParseAddr(d); err == nil {
					u.extraDNS = append(u.extraDNS, a)
				}
			}
			if w.Method == config.MethodStatic {
				p := netip.MustParsePrefix(w.Address)
				st := &addrConfig{Address: p, MTU: w.MTU, DNS: u.extraDNS}
				if w.Gateway != "" {
					st.Gateway = netip.MustParseAddr(w.Gateway)
				}
				u.static, u.extraDNS = st, nil
			}
			out = append(out, u)
		case "modem":
			m := cfg.Modem
			if !m.Enabled {
				continue
			}
			out = append(out, &uplink{Name: "modem", Index: i, Iface: m.Interface, Method: m.Method, targets: targets(m.HealthTargets)})
		}
	}
	return out
}

// startUplinkLocked begins managing u's interface.
func (s *Service) startUplinkLocked(u *uplink) {
	u.since = time.Now()
	u.state = netapi.UplinkAbsent
	if u.Iface == "" {
		return // the modem manager sets it when the modem is found
	}
	s.attachLocked(u)
}

// attachLocked looks at u's interface, brings it up and starts its address
// configuration (DHCP client, static address).
func (s *Service) attachLocked(u *uplink) {
	exists, carrier, _ := linkState(u.Iface)
	u.exists, u.carrier = exists, carrier
	if exists {
		if err := linkUp(u.Iface); err != nil {
			u.lastErr = err.Error()
		}
	}
	switch {
	case u.static != nil:
		if exists {
			s.setAddrLocked(u, u.static)
		}
	case u.Method == config.MethodDHCP || u.Method == "":
		if u.Name == "modem" && u.Method == "" && s.modem != nil && s.modem.preferModemAddress() {
			return
		}
		ctx, cancel := context.WithCancel(s.ctx)
		u.stopDHCP = cancel
		c := newDHCPClient(ifaceDHCP{iface: u.Iface}, s.log.With("uplink", u.Name, "iface", u.Iface))
		c.OnLease = func(l *dhcpLease) {
			s.mu.Lock()
			if u.dhcp == c {
				s.setAddrLocked(u, &l.addrConfig)
			}
			s.mu.Unlock()
			s.wake()
		}
		c.OnLoss = func(reason string) {
			s.mu.Lock()
			if u.dhcp == c {
				u.lastErr = reason
				s.clearAddrLocked(u)
			}
			s.mu.Unlock()
			s.wake()
		}
		u.dhcp = c
		c.SetCarrier(carrier)
		go c.Run(ctx)
	}
}

// stopUplinkLocked stops u's DHCP client and probes and removes what netctl
// programmed on its interface.
func (s *Service) stopUplinkLocked(u *uplink) {
	if u.stopDHCP != nil {
		u.stopDHCP()
		u.stopDHCP, u.dhcp = nil, nil
	}
	if u.stopProbe != nil {
		u.stopProbe()
		u.stopProbe = nil
	}
	if u.Iface != "" && u.addr != nil {
		s.clearAddrLocked(u)
	}
	if s.active == u {
		deleteActiveDefault()
		s.active, s.activeKey = nil, ""
	}
}

// setAddrLocked programs cfg on u's interface.
func (s *Service) setAddrLocked(u *uplink, cfg *addrConfig) {
	c := *cfg
	c.Routes = s.uplinkRoutesLocked(u, cfg.Routes) // dhcproutes.go
	if why := s.lanConflictLocked(c.Address); why != "" {
		u.lastErr = why
		s.log.Error("uplink address refused", "uplink", u.Name, "err", why)
		return
	}
	if u.static == nil {
		// Static DNS from the config come after the lease's.
		c.DNS = slices.Clone(cfg.DNS)
	}
	if u.Method != config.MethodPPP { // pppd configures its interface itself
		if err := setMTU(u.Iface, c.MTU); err != nil {
			s.log.Warn("uplink mtu", "uplink", u.Name, "err", err)
		}
		if err := setAddress(u.Iface, c.Address); err != nil {
			u.lastErr = err.Error()
			s.log.Error("uplink address", "uplink", u.Name, "err", err)
			return
		}
	}
	if u.addr != nil && !u.addr.Equal(c) {
		deleteStaticRoutes(u.Iface)
		if s.active == u {
			s.activeKey = ""
		}
	}
	u.addr = &c
	s.programRoutesLocked(u)
}

// programRoutesLocked installs u's standby default route and its static
// routes.
func (s *Service) programRoutesLocked(u *uplink) {
	c := u.addr
	metric := standbyMetric(u.Index)
	s.sourceKey = "" // reprogram its source table too (evaluate)
	if err := replaceRoute(u.Iface, defaultDst, c.Gateway, c.Address.Addr(), metric); err != nil {
		u.lastErr = err.Error()
		s.log.Warn("uplink route", "uplink", u.Name, "err", err)
	}
	for _, r := range c.Routes {
		if err := replaceRoute(u.Iface, r.Dst, r.Gateway, c.Address.Addr(), metric); err != nil {
			s.log.Warn("uplink static route", "uplink", u.Name, "route", r.Dst, "err", err)
		}
	}
}

// clearAddrLocked removes u's address and routes (lease lost).
func (s *Service) clearAddrLocked(u *uplink) {
	deleteStaticRoutes(u.Iface)
	if err := flushAddresses(u.Iface); err != nil {
		s.log.Warn("uplink flush", "uplink", u.Name, "err", err)
	}
	u.addr = nil
	if s.active == u {
		deleteActiveDefault()
		s.activeKey = ""
	}
}

// linkEvent follows carrier and interfaces coming and going.
func (s *Service) linkEvent(upd netlink.LinkUpdate) {
	name := upd.Link.Attrs().Name
	exists := upd.Header.Type != unix.RTM_DELLINK
	f := upd.IfInfomsg.Flags
	carrier := exists && f&unix.IFF_UP != 0 && f&unix.IFF_LOWER_UP != 0
	s.mu.Lock()
	if exists && s.lateRolePortLocked(name) {
		// Its driver loaded after netctl started (init starts the services
		// while the NIC drivers still load; a slow driver on a real box):
		// the config is applied again, now with the port named, which
		// also puts it in the firewall's LAN or uplink list.
		s.log.Info("board port appeared; applying the config to it", "iface", name)
		s.applyLocked(s.cfg)
	}
	for _, u := range s.uplinks {
		if u.Iface != name {
			continue
		}
		appeared := exists && !u.exists
		u.exists = exists
		if u.carrier != carrier {
			s.log.Info("uplink carrier", "uplink", u.Name, "iface", name, "carrier", carrier)
		}
		u.carrier = carrier
		if appeared {
			if err := linkUp(name); err != nil {
				u.lastErr = err.Error()
			}
			if u.static != nil {
				s.setAddrLocked(u, u.static)
			} else if u.addr != nil {
				s.setAddrLocked(u, u.addr)
			}
		}
		if u.dhcp != nil {
			u.dhcp.SetCarrier(carrier)
		}
	}
	for _, l := range s.lan {
		if l.Interface == name && exists && l.Address == "" {
			s.applyLANLocked()
			break
		}
	}
	for i := range s.lan {
		if s.lan[i].Interface == name {
			s.lan[i].Carrier = carrier
		}
	}
	if s.modem != nil {
		s.modem.linkEvent(name, exists, carrier)
	}
	s.mu.Unlock()
	s.evaluate() // carrier loss moves the default route at once
}

// lateRolePortLocked reports whether name is the interface of a LAN port
// or the WAN that had no interface when the config was last applied (the
// board's port was not there yet) and now resolves to name.
func (s *Service) lateRolePortLocked(name string) bool {
	for _, l := range s.lan {
		if l.Interface == "" && l.Role != "" && s.roleIface(l.Role) == name {
			return true
		}
	}
	for _, u := range s.uplinks {
		if u.Name == "wan" && u.Iface == "" && s.cfg.WAN.Interface == "" {
			role := s.cfg.WAN.Role
			if role == "" {
				role = "wan"
			}
			if s.ifaceFor(s.cfg, "", role) == name {
				return true
			}
		}
	}
	return false
}

// applyLANLocked puts the static addresses on the LAN ports.
func (s *Service) applyLANLocked() {
	var st []netapi.LANStatus
	for _, p := range s.cfg.LAN {
		iface := s.ifaceFor(s.cfg, p.Interface, p.Role)
		ls := netapi.LANStatus{Role: p.Role, Interface: iface}
		if iface == "" {
			ls.Error = fmt.Sprintf("no interface for role %q on this board", p.Role)
			st = append(st, ls)
			continue
		}
		pre := netip.MustParsePrefix(p.Address)
		exists, carrier, _ := linkState(iface)
		ls.Carrier = carrier
		if !exists {
			ls.Error = "interface " + iface + " not present"
		} else if err := linkUp(iface); err != nil {
			ls.Error = err.Error()
		} else if err := setLANAddress(iface, pre, netapi.LANMoveGrace); err != nil {
			ls.Error = err.Error()
		} else {
			ls.Address = pre.String()
		}
		if ls.Error != "" {
			s.log.Warn("lan port", "role", p.Role, "iface", iface, "err", ls.Error)
		}
		st = append(st, ls)
	}
	s.lan = st
	s.syncLANDHCPLocked()
}

// applyFirewallLocked replaces the ruleset when the plan changed.
func (s *Service) applyFirewallLocked() {
	plan := firewallPlan{Router: s.cfg.Router, VPN: slices.Clone(s.cfg.Firewall.VPNInterfaces), NoFilter: s.opts.NoFirewall}
	for _, l := range s.lan {
		if l.Interface != "" {
			plan.LAN = append(plan.LAN, l.Interface)
		}
	}
	for _, u := range s.uplinks {
		if u.Iface != "" {
			plan.Uplinks = append(plan.Uplinks, u.Iface)
		}
	}
	if s.modem != nil && s.modem.pppIface != "" && !slices.Contains(plan.Uplinks, s.modem.pppIface) {
		plan.Uplinks = append(plan.Uplinks, s.modem.pppIface)
	}
	plan.OpenUDP, _ = parseRanges(s.cfg.Firewall.OpenUDP)
	plan.OpenTCP, _ = parseRanges(s.cfg.Firewall.OpenTCP)
	plan.Management, _ = parseRanges(s.cfg.Firewall.ManagementTCP)
	plan.VPNToLAN, plan.LANToVPN = parsePrefixes(s.cfg.Firewall.VPNToLAN), parsePrefixes(s.cfg.Firewall.LANToVPN)
	plan.Spoofed = s.spoofedSourcesLocked() // dhcproutes.go
	if s.fwPlan != nil && s.fwPlan.Equal(plan) && s.fw.Applied {
		return
	}
	s.fw = netapi.FirewallStatus{Uplinks: plan.Uplinks, LAN: plan.LAN, Router: plan.Router}
	if err := applyFirewall(plan); err != nil {
		s.fw.Error = err.Error()
		s.log.Error("firewall", "err", err)
		return
	}
	if err := setForwarding(plan.Router); err != nil {
		s.fw.Error = err.Error()
		s.log.Error("firewall", "err", err)
	}
	s.fw.Applied, s.fw.AppliedAt = true, time.Now()
	s.fwPlan = &plan
	if plan.NoFilter {
		// Loud on purpose: the box answers everything from the internet.
		s.fw.Error = "the firewall is off (netctl --no-firewall, for debugging only): the box and its LAN are open to the internet"
		s.log.Warn("FIREWALL OFF: --no-firewall replaced the boot table with one that filters nothing (NAT only); never ship a box like this",
			"uplinks", plan.Uplinks, "lan", plan.LAN, "router", plan.Router)
		return
	}
	s.log.Info("firewall applied", "uplinks", plan.Uplinks, "lan", plan.LAN, "router", plan.Router)
}

// evaluate updates health, starts/stops probes and moves the default route.
func (s *Service) evaluate() {
	s.mu.Lock()
	now := time.Now()
	s.lastCheck = now
	h := s.cfg.Health
	failAfter := time.Duration(h.FailAfterSec) * time.Second
	views := make([]uplinkHealth, len(s.uplinks))
	active := -1
	for i, u := range s.uplinks {
		u.updateHealth(now, failAfter)
		views[i] = u.view()
		if u == s.active {
			active = i
		}
		if u.ready() && u.stopProbe == nil && len(u.targets) > 0 {
			s.startProbeLocked(u)
		} else if !u.ready() && u.stopProbe != nil {
			u.stopProbe()
			u.stopProbe = nil
		}
	}
	s.syncSourceRoutingLocked(false)
	if s.modem != nil {
		s.modem.checkDead(now)
	}
	pick := chooseUplink(views, active, now, time.Duration(h.FailbackAfterSec)*time.Second)
	var next *uplink
	if pick >= 0 {
		next = s.uplinks[pick]
	}
	key := ""
	if next != nil && next.addr != nil {
		key = fmt.Sprintf("%s|%s|%s|%s|%v", next.Name, next.Iface, next.addr.Address, next.addr.Gateway, next.dns())
	}
	var change *UplinkChange
	if key != s.activeKey || next != s.active {
		if next != s.active {
			s.switches++
			from := "none"
			if s.active != nil {
				from = s.active.Name
			}
			to := "none"
			if next != nil {
				to = next.Name
			}
			s.log.Info("default route", "from", from, "to", to)
		}
		if next == nil {
			if err := deleteActiveDefault(); err != nil {
				s.log.Warn("remove default route", "err", err)
			}
			s.writeResolv("none", nil)
			s.lanUpstream.Store(nil)
			change = &UplinkChange{}
		} else {
			if err := replaceRoute(next.Iface, defaultDst, next.addr.Gateway, next.addr.Address.Addr(), activeMetric); err != nil {
				if err.Error() != s.routeErr {
					s.log.Error("default route", "uplink", next.Name, "err", err)
				}
				s.routeErr = err.Error()
				key = "" // try again next time
			} else {
				s.routeErr = ""
			}
			if err := s.writeResolv(next.Name, next.dns()); err != nil {
				s.log.Error("dns", "err", err)
			}
			dns := next.dns()
			s.lanUpstream.Store(&dns)
			change = &UplinkChange{Name: next.Name, Iface: next.Iface, Address: next.addr.Address, Gateway: next.addr.Gateway, DNS: next.dns(), NTP: next.addr.NTP}
		}
		s.active, s.activeKey = next, key
	}
	cbs := slices.Clone(s.OnUplinkChange)
	s.mu.Unlock()
	if change != nil {
		for _, cb := range cbs {
			go cb(*change)
		}
	}
}

// startProbeLocked runs u's health probes until stopped.
func (s *Service) startProbeLocked(u *uplink) {
	ctx, cancel := context.WithCancel(s.ctx)
	u.stopProbe = cancel
	iface, targets := u.Iface, slices.Clone(u.targets)
	interval := time.Duration(s.cfg.Health.IntervalSec) * time.Second
	timeout := time.Duration(s.cfg.Health.TimeoutSec) * time.Second
	go func() {
		for {
			var err error
			for _, t := range targets {
				pctx, pcancel := context.WithTimeout(ctx, timeout)
				err = probe(pctx, iface, t)
				pcancel()
				if err == nil {
					break
				}
			}
			if ctx.Err() != nil {
				return
			}
			s.mu.Lock()
			now := time.Now()
			u.lastProbe = now
			if err == nil {
				u.lastOK, u.probeErr = now, ""
			} else {
				u.probeErr = err.Error()
			}
			s.mu.Unlock()
			s.wake()
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
}

// shutdown removes the source routing rules and tables, takes the
// modem's link down and switches its radio off.
func (s *Service) shutdown() {
	s.mu.Lock()
	if err := syncSourceRouting(s.policy, nil); err != nil {
		s.log.Error("remove source routing", "err", err)
	}
	s.sourceKey = ""
	s.stopLANDHCPLocked()
	s.stopOwnDNS()
	m := s.modem
	voice := slices.Collect(maps.Values(s.voiceModems))
	for _, u := range s.uplinks {
		if u.stopDHCP != nil {
			u.stopDHCP()
		}
		if u.stopProbe != nil {
			u.stopProbe()
		}
	}
	s.mu.Unlock()
	if m != nil {
		m.shutdown()
	}
	for _, v := range voice {
		v.shutdown()
	}
}

// Status is a snapshot for the API.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{LAN: s.lanStatusLocked(), Firewall: s.fw, Switches: s.switches, LastCheck: s.lastCheck}
	if s.active != nil {
		st.Active = s.active.Name
	}
	for _, u := range s.uplinks {
		st.Uplinks = append(st.Uplinks, s.uplinkStatusLocked(u))
	}
	if s.modem != nil {
		ms := s.modem.status()
		ms.Slot = slotOf(ms.Device, s.cfg.Modem.Slot, s.opts.ModemSlots, slotSysfs)
		st.Modem = &ms
	} else {
		st.Modem = &ModemStatus{State: netapi.ModemDisabled}
	}
	st.VoiceModems = s.voiceModemStatusLocked()
	return st
}

func (s *Service) uplinkStatusLocked(u *uplink) UplinkStatus {
	us := UplinkStatus{Name: u.Name, Interface: u.Iface, Method: u.Method, State: u.state, Active: u == s.active,
		Carrier: u.carrier, Priority: u.Index, Since: u.since, LastError: u.lastErr}
	if us.Method == "" {
		us.Method = "auto"
	}
	if u.addr != nil {
		us.Address = u.addr.Address.String()
		if u.addr.Gateway.IsValid() {
			us.Gateway = u.addr.Gateway.String()
		}
		us.MTU = u.addr.MTU
		us.Routes = u.addr.Routes
	}
	for _, d := range u.dns() {
		us.DNS = append(us.DNS, d.String())
	}
	if u.dhcp != nil {
		ds := u.dhcp.Status()
		di := &netapi.DHCPInfo{State: ds.State, Renewals: ds.Renewals, LastError: ds.LastErr}
		if l := ds.Lease; l != nil {
			di.Server = l.Server.String()
			di.Acquired, di.RenewAt, di.RebindAt, di.ExpiresAt = l.Acquired, l.RenewAt(), l.RebindAt(), l.ExpiresAt()
			di.LeaseSec = int(l.Duration / time.Second)
		}
		us.DHCP = di
	}
	us.Health = netapi.Health{Healthy: u.healthy, LastOK: u.lastOK, LastProbe: u.lastProbe, LastError: u.probeErr}
	for _, t := range u.targets {
		us.Health.Targets = append(us.Health.Targets, t.String())
	}
	if u.Iface != "" {
		us.RxBytes, us.TxBytes = linkStats(u.Iface)
	}
	return us
}
