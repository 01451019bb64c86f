package config

import (
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Network is the network section: LAN ports, uplinks (wired WAN and the
// modem) in order of preference, their health probes and the firewall.
// netctl owns it.
type Network struct {
	// Interfaces maps NIC roles ("wan", "lan1", ...) to interface names. The
	// board profile gives the defaults; entries here override it.
	Interfaces map[string]string `json:"interfaces,omitempty"`
	LAN        []LANPort         `json:"lan"`
	WAN        WAN               `json:"wan"`
	Modem      Modem             `json:"modem"`
	// Uplinks lists "wan" and "modem" in order of preference: the first
	// healthy one carries the default route.
	Uplinks  []string `json:"uplinks"`
	Health   Health   `json:"health"`
	Firewall Firewall `json:"firewall"`
	// Router makes the box NAT its LAN clients out of the active uplink.
	Router bool `json:"router"`
}

// LANPort is one LAN port with a static address.
type LANPort struct {
	Role      string `json:"role"`                // "lan1"
	Interface string `json:"interface,omitempty"` // overrides the board's role map
	Address   string `json:"address"`             // "192.168.1.1/24"
	// DHCP is the box's DHCP server on this port: on by default.
	DHCP LANDHCP `json:"dhcp,omitzero"`
}

// LANDHCP configures the DHCP server on a LAN port. The zero value is the
// default: on, addresses .100 to .199 of the port's subnet (all of a
// subnet smaller than that), 12 h leases.
type LANDHCP struct {
	// Off turns the server off, for a LAN that has a DHCP server of its own.
	Off   bool   `json:"off,omitempty"`
	First string `json:"first,omitempty"` // first address handed out
	Last  string `json:"last,omitempty"`  // last address handed out
	// LeaseSec is how long a lease lasts; 0 means 43200 (12 h).
	LeaseSec int `json:"lease_sec,omitempty"`
}

// DefaultLeaseSec is the LAN DHCP server's lease time when none is set.
const DefaultLeaseSec = 43200

// Pool returns the range of addresses the DHCP server on a LAN port with
// address port hands out.
func (d LANDHCP) Pool(port netip.Prefix) (first, last netip.Addr) {
	base, size := addrU32(port.Masked().Addr()), uint32(1)<<(32-port.Bits())
	lo, hi := base+1, base+size-2 // no network or broadcast address
	if size >= 256 {
		lo, hi = base+100, base+199
	}
	first, last = u32addr(lo), u32addr(hi)
	if a, err := netip.ParseAddr(d.First); err == nil {
		first = a
	}
	if a, err := netip.ParseAddr(d.Last); err == nil {
		last = a
	}
	return first, last
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// validate checks the DHCP server settings of a LAN port at port.
func (d LANDHCP) validate(f string, port netip.Prefix, bad func(field, format string, a ...any)) {
	if d.LeaseSec != 0 && (d.LeaseSec < 120 || d.LeaseSec > 30*86400) {
		bad(f+".lease_sec", "%d is outside 120..2592000 (2 minutes to 30 days; 0 means 12 h)", d.LeaseSec)
	}
	subnet := port.Masked()
	bcast := u32addr(addrU32(subnet.Addr()) + uint32(1)<<(32-port.Bits()) - 1)
	ok := true
	for _, e := range []struct{ name, v string }{{"first", d.First}, {"last", d.Last}} {
		if e.v == "" {
			continue
		}
		a, err := netip.ParseAddr(e.v)
		if err != nil || !a.Is4() || !subnet.Contains(a) || a == subnet.Addr() || a == bcast {
			bad(f+"."+e.name, "%q is not a host address inside %s", e.v, subnet)
			ok = false
		}
	}
	if first, last := d.Pool(port); ok && last.Less(first) {
		bad(f+".last", "%s is before the first address %s", last, first)
	}
}

// Address methods.
const (
	MethodDHCP   = "dhcp"
	MethodStatic = "static"
	MethodModem  = "modem" // address as the modem reports it (^DHCP, *E2IPCFG)
	MethodPPP    = "ppp"
)

// WAN is the wired uplink.
type WAN struct {
	Enabled   bool     `json:"enabled"`
	Role      string   `json:"role,omitempty"`      // default "wan"
	Interface string   `json:"interface,omitempty"` // overrides the role map
	Method    string   `json:"method"`              // "dhcp" or "static"
	Address   string   `json:"address,omitempty"`   // static: "203.0.113.2/24"
	Gateway   string   `json:"gateway,omitempty"`   // static
	DNS       []string `json:"dns,omitempty"`       // static, or extra with dhcp
	MTU       int      `json:"mtu,omitempty"`
	// HealthTargets overrides health.targets for this uplink.
	HealthTargets []string `json:"health_targets,omitempty"`
}

// Modem is the 3G/LTE uplink.
type Modem struct {
	Enabled bool   `json:"enabled"`
	Port    string `json:"port,omitempty"` // AT port; "" = detect
	// DataPort is the tty pppd dials on when it is not the AT port (Sierra
	// MC8775: ttyUSB0 beside the AT port ttyUSB2); "" = detect. A tty name
	// (ttyUSB0) or a /dev path, like Port.
	DataPort  string `json:"data_port,omitempty"`
	Interface string `json:"interface,omitempty"` // data interface; "" = found through sysfs
	Profile   string `json:"profile,omitempty"`   // vendor profile; "" = detect
	// Method is "dhcp", "modem" or "ppp"; "" takes the profile's preference.
	Method   string `json:"method,omitempty"`
	APN      string `json:"apn,omitempty"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	PIN      string `json:"pin,omitempty"`
	// ResetAfterSec: the modem is reset and redialled when its link has been
	// dead this long.
	ResetAfterSec int      `json:"reset_after_sec"`
	HealthTargets []string `json:"health_targets,omitempty"`
	// Slot says which mini-PCIe slot holds the modem ("mpcie1" or
	// "mpcie2", as printed on the board) when the board's USB map is
	// wrong or unknown; "" = from the USB port the modem sits on.
	Slot string `json:"slot,omitempty"`
	// Roaming is "allow" (the default, also "") or "deny": with deny the
	// box does not dial while the card is registered roaming (+CREG stat
	// 5), so a SIM abroad runs up no roaming bill. Allowed by default:
	// IoT/M2M SIMs are roaming SIMs everywhere (they work only roaming),
	// and a box that will not dial cannot be reached to change it.
	Roaming string `json:"roaming,omitempty"`
	// AudioPort is the card's PCM voice port the SIP gateway opens (a tty
	// name or /dev path; with modemsim its --audio unix socket); "" = the
	// vendor's voice tty found by USB interface (issue 19).
	AudioPort string `json:"audio_port,omitempty"`
	// VoiceModems are cards in the other slot that carry voice and SMS
	// only, never data (gsm_modems.go).
	VoiceModems []VoiceModem `json:"voice_modems,omitempty"`
}

// network.modem.roaming values.
const (
	RoamingAllow = "allow"
	RoamingDeny  = "deny"
)

// ModemSlots are the values network.modem.slot takes: the APU boards have
// at most two mini-PCIe slots that carry a modem.
var ModemSlots = []string{"mpcie1", "mpcie2"}

// Health configures the probes that decide whether an uplink works.
type Health struct {
	// Targets are "icmp:HOST" or "tcp:HOST:PORT", sent out of each uplink
	// only. Empty: an uplink with carrier and address counts as healthy.
	Targets     []string `json:"targets,omitempty"`
	IntervalSec int      `json:"interval_sec"`
	TimeoutSec  int      `json:"timeout_sec"`
	// FailAfterSec without a successful probe marks an uplink failed.
	FailAfterSec int `json:"fail_after_sec"`
	// FailbackAfterSec: a preferred uplink must stay healthy this long before
	// traffic moves back to it, so a flapping link does not flap the box.
	// Only after a loss within the last 10 minutes: a preferred uplink that
	// was never up since netctl started takes over as soon as it answers.
	FailbackAfterSec int `json:"failback_after_sec"`
}

// Firewall lists what the internet may reach on the uplinks.
type Firewall struct {
	// OpenUDP and OpenTCP are ports or ranges ("5060", "10000-20000")
	// reachable from the uplinks: the VPN and the gateway's signaling and
	// media ports.
	OpenUDP []string `json:"open_udp,omitempty"`
	OpenTCP []string `json:"open_tcp,omitempty"`
	// ManagementTCP are the web UI, API and SSH ports: LAN and VPN only.
	ManagementTCP []string `json:"management_tcp"`
	// VPNInterfaces are interface names (a trailing * matches a prefix)
	// that count as VPN.
	VPNInterfaces []string `json:"vpn_interfaces"`
	// VPNToLAN lists LAN subnets or hosts ("192.168.1.20/32") that machines
	// on the VPN may reach through the box; LANToVPN lists VPN subnets LAN
	// hosts may reach. Empty (the default): the VPN reaches the box's own
	// management only and the LAN cannot reach the VPN at all.
	VPNToLAN []string `json:"vpn_to_lan,omitempty"`
	LANToVPN []string `json:"lan_to_vpn,omitempty"`
}

// DefaultNetwork is the network section of a fresh box: DHCP on the wired
// WAN, the modem as backup, one LAN port, router mode on.
func DefaultNetwork() Network {
	return Network{
		LAN:     []LANPort{{Role: "lan1", Address: "192.168.1.1/24"}},
		WAN:     WAN{Enabled: true, Role: "wan", Method: MethodDHCP},
		Modem:   Modem{Enabled: true, ResetAfterSec: 300},
		Uplinks: []string{"wan", "modem"},
		Health:  Health{IntervalSec: 5, TimeoutSec: 2, FailAfterSec: 15, FailbackAfterSec: 60},
		Firewall: Firewall{
			ManagementTCP: []string{"22", "80", "443"},
			VPNInterfaces: []string{"tun*"},
		},
		Router: true,
	}
}

// Validate reports what is wrong with the network section, naming fields.
func (s Network) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("network.%s: "+format, append([]any{field}, a...)...))
	}
	for role, name := range s.Interfaces {
		if !validIfname(name) {
			bad("interfaces."+role, "%q is not a valid interface name", name)
		}
	}
	for i, p := range s.LAN {
		f := fmt.Sprintf("lan[%d]", i)
		if p.Role == "" && p.Interface == "" {
			bad(f+".role", "give a role (lan1) or an interface")
		}
		if p.Interface != "" && !validIfname(p.Interface) {
			bad(f+".interface", "%q is not a valid interface name", p.Interface)
		}
		if pre, err := netip.ParsePrefix(p.Address); err != nil || !pre.Addr().Is4() {
			bad(f+".address", "%q is not an IPv4 address with prefix length, like 192.168.1.1/24", p.Address)
		} else if !p.DHCP.Off {
			if pre.Bits() > 30 {
				bad(f+".dhcp", "subnet %s has no room for DHCP clients: make it larger or set dhcp.off", pre.Masked())
			} else {
				p.DHCP.validate(f+".dhcp", pre, bad)
			}
		}
	}
	if s.WAN.Interface != "" && !validIfname(s.WAN.Interface) {
		bad("wan.interface", "%q is not a valid interface name", s.WAN.Interface)
	}
	switch s.WAN.Method {
	case MethodDHCP:
		if s.WAN.Address != "" {
			if _, err := netip.ParsePrefix(s.WAN.Address); err != nil {
				bad("wan.address", "%q is not an address with prefix length", s.WAN.Address)
			}
		}
	case MethodStatic:
		p, err := netip.ParsePrefix(s.WAN.Address)
		if err != nil || !p.Addr().Is4() {
			bad("wan.address", "%q is not an IPv4 address with prefix length, like 203.0.113.2/24 (needed for method static)", s.WAN.Address)
		} else if s.WAN.Gateway != "" {
			gw, err := netip.ParseAddr(s.WAN.Gateway)
			if err != nil || !gw.Is4() {
				bad("wan.gateway", "%q is not an IPv4 address", s.WAN.Gateway)
			} else if !p.Masked().Contains(gw) {
				bad("wan.gateway", "%s is not inside %s", gw, p.Masked())
			}
		}
	default:
		bad("wan.method", "%q is not dhcp or static", s.WAN.Method)
	}
	for i, d := range s.WAN.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			bad(fmt.Sprintf("wan.dns[%d]", i), "%q is not an IP address", d)
		}
	}
	if s.WAN.MTU != 0 && (s.WAN.MTU < 576 || s.WAN.MTU > 9000) {
		bad("wan.mtu", "%d is outside 576..9000", s.WAN.MTU)
	}
	switch s.Modem.Method {
	case "", MethodDHCP, MethodModem, MethodPPP:
	default:
		bad("modem.method", "%q is not dhcp, modem or ppp (or empty for the profile's choice)", s.Modem.Method)
	}
	for _, f := range []struct{ name, v string }{{"port", s.Modem.Port}, {"data_port", s.Modem.DataPort}} {
		if f.v != "" && !validTTY(f.v) {
			bad("modem."+f.name, "%q is not a tty name (ttyUSB0) or a path under /dev", f.v)
		}
	}
	if s.Modem.Interface != "" && !validIfname(s.Modem.Interface) {
		bad("modem.interface", "%q is not a valid interface name", s.Modem.Interface)
	}
	if pin := s.Modem.PIN; pin != "" && (len(pin) < 4 || len(pin) > 8 || strings.Trim(pin, "0123456789") != "") {
		bad("modem.pin", "must be 4 to 8 digits")
	}
	if s.Modem.APN != "" && !apnRE.MatchString(s.Modem.APN) {
		bad("modem.apn", "%q: letters, digits, '.', '-' and '_' only, at most 100", s.Modem.APN)
	}
	for _, f := range []struct{ name, v string }{{"user", s.Modem.User}, {"password", s.Modem.Password}} {
		if strings.ContainsAny(f.v, "\"\r\n\x1a\x1b") || len(f.v) > 64 {
			bad("modem."+f.name, "must be at most 64 characters without quotes or control characters")
		}
	}
	if r := s.Modem.Roaming; r != "" && r != RoamingAllow && r != RoamingDeny {
		bad("modem.roaming", "%q: use allow (dial when roaming, the default) or deny (never dial while roaming)", r)
	}
	if s.Modem.Slot != "" && !slices.Contains(ModemSlots, s.Modem.Slot) {
		bad("modem.slot", "%q is not a slot: use mpcie1 or mpcie2 (as printed beside the slot on the board), or leave it empty to find the slot from the modem's USB port", s.Modem.Slot)
	}
	errs = append(errs, s.Modem.validateVoiceModems())
	if s.Modem.ResetAfterSec != 0 && s.Modem.ResetAfterSec < 30 {
		bad("modem.reset_after_sec", "%d is below 30 (0 disables the reset)", s.Modem.ResetAfterSec)
	}
	seen := map[string]bool{}
	for i, u := range s.Uplinks {
		if u != "wan" && u != "modem" {
			bad(fmt.Sprintf("uplinks[%d]", i), "%q is not wan or modem", u)
		}
		if seen[u] {
			bad(fmt.Sprintf("uplinks[%d]", i), "%q is listed twice", u)
		}
		seen[u] = true
	}
	for _, t := range [][2]any{{"health.targets", s.Health.Targets}, {"wan.health_targets", s.WAN.HealthTargets}, {"modem.health_targets", s.Modem.HealthTargets}} {
		for i, target := range t[1].([]string) {
			if err := ValidHealthTarget(target); err != nil {
				bad(fmt.Sprintf("%s[%d]", t[0], i), "%v", err)
			}
		}
	}
	h := s.Health
	if h.IntervalSec < 1 || h.IntervalSec > 3600 {
		bad("health.interval_sec", "%d is outside 1..3600", h.IntervalSec)
	}
	if h.TimeoutSec < 1 || h.TimeoutSec > 60 {
		bad("health.timeout_sec", "%d is outside 1..60", h.TimeoutSec)
	}
	if h.FailAfterSec < h.IntervalSec {
		bad("health.fail_after_sec", "%d is shorter than health.interval_sec (%d)", h.FailAfterSec, h.IntervalSec)
	}
	if h.FailbackAfterSec < 0 {
		bad("health.failback_after_sec", "%d is negative", h.FailbackAfterSec)
	}
	for _, l := range []struct {
		name  string
		ports []string
	}{{"firewall.open_udp", s.Firewall.OpenUDP}, {"firewall.open_tcp", s.Firewall.OpenTCP}, {"firewall.management_tcp", s.Firewall.ManagementTCP}} {
		for i, p := range l.ports {
			if _, _, err := ParsePortRange(p); err != nil {
				bad(fmt.Sprintf("%s[%d]", l.name, i), "%v", err)
			}
		}
	}
	for i, v := range s.Firewall.VPNInterfaces {
		if !validIfname(strings.TrimSuffix(v, "*")) {
			bad(fmt.Sprintf("firewall.vpn_interfaces[%d]", i), "%q is not an interface name or prefix*", v)
		}
	}
	s.validateVPNForwarding(bad)
	return errors.Join(errs...)
}

// validateVPNForwarding checks firewall.vpn_to_lan (inside a LAN port's
// subnet: it must not open the internet to the VPN) and firewall.lan_to_vpn
// (outside every LAN subnet).
func (s Network) validateVPNForwarding(bad func(field, format string, a ...any)) {
	var lans []netip.Prefix
	for _, p := range s.LAN {
		if pre, err := netip.ParsePrefix(p.Address); err == nil {
			lans = append(lans, pre.Masked())
		}
	}
	parse := func(field, v string) (netip.Prefix, bool) {
		p, err := netip.ParsePrefix(v)
		switch {
		case err != nil || !p.Addr().Is4():
			bad(field, "%q is not an IPv4 subnet like 192.168.1.0/24 (or a host, 192.168.1.20/32)", v)
		case p.Masked() != p:
			bad(field, "%q has host bits set: the subnet is %s", v, p.Masked())
		case p.Bits() < 8:
			bad(field, "%q is wider than a /8: name the subnet", v)
		default:
			return p, true
		}
		return p, false
	}
	for i, v := range s.Firewall.VPNToLAN {
		f := fmt.Sprintf("firewall.vpn_to_lan[%d]", i)
		if p, ok := parse(f, v); ok && !slices.ContainsFunc(lans, func(l netip.Prefix) bool { return l.Bits() <= p.Bits() && l.Contains(p.Addr()) }) {
			bad(f, "%s is not inside a LAN port's subnet (%v)", p, lans)
		}
	}
	for i, v := range s.Firewall.LANToVPN {
		f := fmt.Sprintf("firewall.lan_to_vpn[%d]", i)
		if p, ok := parse(f, v); ok && slices.ContainsFunc(lans, p.Overlaps) {
			bad(f, "%s overlaps a LAN subnet (%v): give the VPN's subnet", p, lans)
		}
	}
}

// apnRE is what can safely go into an AT command (as package modem checks).
var apnRE = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9.\-_]{0,99}$`)

// ParsePortRange parses "5060" or "10000-20000".
func ParsePortRange(s string) (lo, hi uint16, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = parsePort(a)
	if err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	hi = lo
	if isRange {
		if hi, err = parsePort(b); err != nil {
			return 0, 0, fmt.Errorf("%q: %w", s, err)
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("%q: range ends before it starts", s)
		}
	}
	return lo, hi, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, errors.New("not a port 1..65535 or range like 10000-20000")
	}
	return uint16(n), nil
}

// ValidHealthTarget checks "icmp:HOST" or "tcp:HOST:PORT" (HOST an IPv4
// address: probes must not depend on DNS).
func ValidHealthTarget(t string) error {
	kind, rest, _ := strings.Cut(t, ":")
	switch kind {
	case "icmp":
		if a, err := netip.ParseAddr(rest); err != nil || !a.Is4() {
			return fmt.Errorf("%q: want icmp:IPv4", t)
		}
	case "tcp":
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
			return fmt.Errorf("%q: want tcp:IPv4:PORT", t)
		}
	default:
		return fmt.Errorf("%q: want icmp:IPv4 or tcp:IPv4:PORT", t)
	}
	return nil
}

func validIfname(n string) bool {
	if n == "" || len(n) > 15 || n == "." || n == ".." {
		return false
	}
	for _, r := range n {
		if r <= ' ' || r == '/' || r == ':' || r > '~' {
			return false
		}
	}
	return true
}

// validTTY reports whether p names a serial port: a tty name without
// slashes (ttyUSB0, resolved under /dev) or a clean absolute path under
// /dev (/dev/ttyUSB0, /dev/serial/by-id/..., /dev/pts/3).
func validTTY(p string) bool {
	if len(p) > 255 || strings.ContainsAny(p, " \t\r\n\x00") {
		return false
	}
	if !strings.Contains(p, "/") {
		return p != "." && p != ".." && ttyNameRE.MatchString(p)
	}
	return strings.HasPrefix(p, "/dev/") && path.Clean(p) == p && len(p) > len("/dev/")
}

var ttyNameRE = lazyregexp.New(`^[A-Za-z0-9_.:+-]+$`)
