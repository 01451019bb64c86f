package netctl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"edgebox/api/netapi"
)

// addrConfig is everything an uplink or LAN port needs to be configured,
// whether it came from a DHCP lease, the config file or the modem.
type addrConfig struct {
	Address netip.Prefix `json:"address"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
	DNS     []netip.Addr `json:"dns,omitempty"`
	MTU     int          `json:"mtu,omitempty"`
	// Routes are classless static routes (DHCP option 121) other than the
	// default route, which is Gateway.
	Routes []netapi.Route `json:"routes,omitempty"`
	// NTP are the time servers a DHCP server gave (option 42), used when
	// system.ntp names none; not kernel state, so Equal leaves them out.
	NTP []netip.Addr `json:"ntp,omitempty"`
}

// Equal reports whether two configurations would program the same kernel state.
func (a addrConfig) Equal(b addrConfig) bool {
	if a.Address != b.Address || a.Gateway != b.Gateway || a.MTU != b.MTU || len(a.DNS) != len(b.DNS) || len(a.Routes) != len(b.Routes) {
		return false
	}
	for i := range a.DNS {
		if a.DNS[i] != b.DNS[i] {
			return false
		}
	}
	for i := range a.Routes {
		if a.Routes[i] != b.Routes[i] {
			return false
		}
	}
	return true
}

// dhcpLease is a DHCPv4 lease: the configuration plus its timers.
type dhcpLease struct {
	addrConfig
	Server   netip.Addr    `json:"server"`
	Acquired time.Time     `json:"acquired"`
	T1       time.Duration `json:"t1"` // renew (unicast to Server)
	T2       time.Duration `json:"t2"` // rebind (broadcast)
	Duration time.Duration `json:"duration"`

	ack *dhcpv4.DHCPv4 // the server's ACK, needed to renew
}

// RenewAt, RebindAt and ExpiresAt are the lease's deadlines.
func (l *dhcpLease) RenewAt() time.Time   { return l.Acquired.Add(l.T1) }
func (l *dhcpLease) RebindAt() time.Time  { return l.Acquired.Add(l.T2) }
func (l *dhcpLease) ExpiresAt() time.Time { return l.Acquired.Add(l.Duration) }

// minLease guards against servers that hand out absurdly short leases: we
// would spend all our time renewing.
const minLease = 10 * time.Second

// leaseFromACK turns a DHCPACK into a Lease acquired at now. It applies
// RFC 2131's default T1 (0.5) and T2 (0.875) when the server sends none or
// nonsense, and RFC 3442's rule that option 121 overrides option 3.
func leaseFromACK(ack *dhcpv4.DHCPv4, now time.Time) (*dhcpLease, error) {
	if ack == nil {
		return nil, errors.New("dhcp: no ACK")
	}
	if ack.MessageType() != dhcpv4.MessageTypeAck {
		return nil, fmt.Errorf("dhcp: message is %s, not an ACK", ack.MessageType())
	}
	ip, ok := netip.AddrFromSlice(ack.YourIPAddr.To4())
	if !ok || !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return nil, fmt.Errorf("dhcp: server offered no usable address (%v)", ack.YourIPAddr)
	}
	bits := 24
	if m := ack.SubnetMask(); m != nil {
		ones, size := m.Size()
		if size != 32 || ones == 0 {
			return nil, fmt.Errorf("dhcp: bad subnet mask %v", net.IP(m))
		}
		bits = ones
	} else if ip.As4()[0] < 128 {
		bits = 8 // classful fallback, as dhclient does
	} else if ip.As4()[0] < 192 {
		bits = 16
	}
	l := &dhcpLease{Acquired: now, ack: ack}
	l.Address = netip.PrefixFrom(ip, bits)
	if s, ok := netip.AddrFromSlice(ack.ServerIdentifier().To4()); ok {
		l.Server = s
	} else if s, ok := netip.AddrFromSlice(ack.ServerIPAddr.To4()); ok && !s.IsUnspecified() {
		l.Server = s
	}
	csr := ack.ClasslessStaticRoute()
	if len(csr) > 0 {
		for _, r := range csr {
			if r == nil || r.Dest == nil {
				continue
			}
			dst, ok1 := netip.AddrFromSlice(r.Dest.IP.To4())
			gw, ok2 := netip.AddrFromSlice(r.Router.To4())
			ones, _ := r.Dest.Mask.Size()
			if !ok1 || !ok2 {
				continue
			}
			p := netip.PrefixFrom(dst, ones).Masked()
			if gw.IsUnspecified() {
				gw = netip.Addr{}
			}
			if p.Bits() == 0 {
				if gw.IsValid() && !l.Gateway.IsValid() {
					l.Gateway = gw
				}
				continue
			}
			l.Routes = append(l.Routes, netapi.Route{Dst: p, Gateway: gw})
		}
	} else {
		for _, r := range ack.Router() {
			if gw, ok := netip.AddrFromSlice(r.To4()); ok && !gw.IsUnspecified() {
				l.Gateway = gw
				break
			}
		}
	}
	for _, d := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok && !a.IsUnspecified() {
			l.DNS = append(l.DNS, a)
		}
	}
	for _, d := range ack.NTPServers() {
		if a, ok := netip.AddrFromSlice(d.To4()); ok && !a.IsUnspecified() {
			l.NTP = append(l.NTP, a)
		}
	}
	if v := ack.GetOneOption(dhcpv4.OptionInterfaceMTU); len(v) == 2 {
		mtu := int(v[0])<<8 | int(v[1])
		if mtu >= 576 && mtu <= 9000 {
			l.MTU = mtu
		}
	}
	l.Duration = ack.IPAddressLeaseTime(time.Hour)
	if l.Duration < minLease {
		l.Duration = minLease
	}
	l.T1 = ack.IPAddressRenewalTime(l.Duration / 2)
	l.T2 = ack.IPAddressRebindingTime(l.Duration * 7 / 8)
	if l.T2 <= 0 || l.T2 > l.Duration {
		l.T2 = l.Duration * 7 / 8
	}
	if l.T1 <= 0 || l.T1 > l.T2 {
		l.T1 = min(l.Duration/2, l.T2)
	}
	return l, nil
}

// dhcpParams are the options we ask every server for.
var dhcpParams = []dhcpv4.OptionCode{
	dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer,
	dhcpv4.OptionInterfaceMTU, dhcpv4.OptionClasslessStaticRoute, dhcpv4.OptionNTPServers,
	dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionRenewTimeValue, dhcpv4.OptionRebindingTimeValue,
}
