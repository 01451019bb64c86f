package gateway

import (
	"net"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/boards"
	"edgebox/internal/config"

	"github.com/vishvananda/netlink"
)

// The caps on connections that have not proven anything (the portal's,
// SIP/TCP strangers') hold descriptors for everyone: once many internet
// sources together filled them, a portal server or a SIP client on the
// LAN or the VPN was refused as well (fifth review left it). Connections
// from inside have their own budget, so the internet can fill only its
// own. A connection is from inside when the box's route back to its
// source leaves through loopback, a LAN or a VPN interface: a TCP
// handshake completes only when the answer reaches its sender, so an
// internet host cannot pass for inside by forging its source, nor by
// dialling the LAN address through the uplink. Sixth review.

// insideSource says whether ip is reached through loopback, a LAN or a
// VPN interface; a variable for tests.
var insideSource = routedInside

// insideCache keeps routedInside's answers for a few seconds: a flood of
// connections from few sources would otherwise cost a netlink route
// lookup each. Entries come from accepted connections only (a completed
// handshake), so spoofed sources cannot fill it.
var insideCache struct {
	sync.Mutex
	m map[netip.Addr]insideEntry
}

type insideEntry struct {
	inside bool
	at     time.Time
}

func routedInside(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return true
	}
	now := time.Now()
	insideCache.Lock()
	e, ok := insideCache.m[ip]
	insideCache.Unlock()
	if ok && now.Sub(e.at) < 2*time.Second {
		return e.inside
	}
	in := lookupInside(ip)
	insideCache.Lock()
	if insideCache.m == nil || len(insideCache.m) >= 4096 {
		insideCache.m = map[netip.Addr]insideEntry{}
	}
	insideCache.m[ip] = insideEntry{in, now}
	insideCache.Unlock()
	return in
}

// lookupInside asks the kernel's routing table which interface leads
// back to ip.
func lookupInside(ip netip.Addr) bool {
	routes, err := netlink.RouteGet(net.IP(ip.AsSlice()))
	if err != nil || len(routes) == 0 {
		return false
	}
	ifc, err := net.InterfaceByIndex(routes[0].LinkIndex)
	if err != nil {
		return false
	}
	return insideInterface(ifc.Name)
}

// insideInterface says whether name is loopback, a LAN or a VPN
// interface: the names web answers on by default, and the board's LAN
// ports (a generic board's eth1), as boards finds them (never a USB
// device but the modem's).
func insideInterface(name string) bool {
	if name == "lo" {
		return true
	}
	for _, p := range config.DefaultWebInterfaces {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	for _, n := range boardLANNames() {
		if n == name {
			return true
		}
	}
	if names := configLAN.Load(); names != nil && slices.Contains(*names, name) {
		return true
	}
	return false
}

// configLAN are the LAN ports the config names itself
// (network.lan[].interface, which overrides the board's role map): such a
// port named otherwise than lan*/br-lan* counted as the internet's
// (sixth review, left; fixed in the seventh). Validation refuses one on
// the WAN's or the modem's interface unless management is exposed.
var configLAN atomic.Pointer[[]string]

// noteConfigLAN takes the LAN ports cfg names; the service's Start and
// Apply call it.
func noteConfigLAN(cfg *config.Config) {
	var names []string
	for _, p := range cfg.Network.LAN {
		if p.Interface != "" {
			names = append(names, p.Interface)
		}
	}
	configLAN.Store(&names)
}

var boardLAN struct {
	sync.Mutex
	at    time.Time
	names []string
}

// boardLANNames are the board's LAN ports, read at most every 5 s (a
// flood of connections does not walk sysfs for each).
func boardLANNames() []string {
	boardLAN.Lock()
	defer boardLAN.Unlock()
	if now := time.Now(); boardLAN.at.IsZero() || now.Sub(boardLAN.at) > 5*time.Second {
		cmdline, _ := os.ReadFile("/proc/cmdline")
		p, _, _ := boards.Detect(boards.ReadDMI("/sys"), boards.CmdlineValue(string(cmdline), "edgebox.board"))
		boardLAN.names = boardLAN.names[:0]
		for role, n := range p.Interfaces("/sys") {
			if strings.HasPrefix(role, "lan") {
				boardLAN.names = append(boardLAN.names, n)
			}
		}
		boardLAN.at = now
	}
	return boardLAN.names
}
