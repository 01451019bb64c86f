package netctl

import (
	"context"
	"edgebox/api/netapi"
	"net/netip"
	"time"
)

// uplink is one way to the internet (wired WAN or the modem). The Service
// owns it; every field is guarded by Service.mu.
type uplink struct {
	Name     string // "wan" or "modem"
	Index    int    // position in network.uplinks: 0 is preferred
	Iface    string
	Method   string
	targets  []healthTarget
	static   *addrConfig  // method static / from the modem
	extraDNS []netip.Addr // configured DNS added to DHCP's
	// modemDNS: the DNS servers the modem reported for its connection
	// (^DHCP, *E2IPCFG), used when the lease names none.
	modemDNS []netip.Addr

	exists, carrier bool
	addr            *addrConfig // what is programmed on the interface
	dhcp            *dhcpClient
	stopDHCP        context.CancelFunc
	stopProbe       context.CancelFunc
	lastErr         string

	// offline: the modem is not connected (registering, SIM, radio off):
	// its data interface may have a link and even a DHCP lease (QEMU's
	// usb-net, some cdc_ether cards) but carries nothing.
	offline bool

	readySince   time.Time
	lastOK       time.Time
	lastProbe    time.Time
	probeErr     string
	healthy      bool
	confirmed    bool
	healthySince time.Time
	lostAt       time.Time // last confirmed healthy -> not healthy (zero: never)
	state        string
	since        time.Time
}

func (u *uplink) ready() bool {
	return u.exists && u.carrier && !u.offline && u.addr != nil
}

// updateHealth recomputes ready/healthy at now. Without probe targets a
// ready uplink is healthy; with targets it is healthy while a probe has
// answered within failAfter (a fresh uplink gets failAfter of grace).
func (u *uplink) updateHealth(now time.Time, failAfter time.Duration) {
	was, wasUp := u.healthy, u.healthy && u.confirmed
	if !u.ready() {
		u.readySince, u.healthy, u.confirmed = time.Time{}, false, false
	} else {
		if u.readySince.IsZero() {
			u.readySince = now
		}
		if len(u.targets) == 0 {
			u.healthy, u.confirmed = true, true
		} else {
			ref := u.readySince
			u.confirmed = u.lastOK.After(u.readySince) || u.lastOK.Equal(u.readySince)
			if u.confirmed {
				ref = u.lastOK
			}
			u.healthy = now.Sub(ref) < failAfter
		}
	}
	if u.healthy && !was {
		u.healthySince = now
	}
	// Lost only counts after it was really up (a probe answered): an
	// uplink whose grace ran out unanswered never carried anything.
	if wasUp && !u.healthy {
		u.lostAt = now
	}
	st := netapi.UplinkHealthy
	switch {
	case !u.exists:
		st = netapi.UplinkAbsent
	case !u.carrier || u.offline:
		st = netapi.UplinkNoCarrier
	case u.addr == nil:
		st = netapi.UplinkConfiguring
	case !u.healthy:
		st = netapi.UplinkFailed
	case !u.confirmed:
		st = netapi.UplinkProbing
	}
	if st != u.state {
		u.state, u.since = st, now
	}
}

func (u *uplink) view() uplinkHealth {
	return uplinkHealth{Ready: u.ready(), Healthy: u.healthy, Confirmed: u.confirmed, HealthySince: u.healthySince, LostAt: u.lostAt}
}

// dns is the uplink's resolvers: from its address config, then configured.
func (u *uplink) dns() []netip.Addr {
	var out []netip.Addr
	if u.addr != nil {
		out = append(out, u.addr.DNS...)
	}
	if len(out) == 0 && u.addr != nil {
		// A lease without DNS (a modem's DHCP that leaves it out):
		// the servers the modem reported for the connection.
		out = append(out, u.modemDNS...)
	}
	for _, d := range u.extraDNS {
		dup := false
		for _, o := range out {
			dup = dup || o == d
		}
		if !dup {
			out = append(out, d)
		}
	}
	return out
}
