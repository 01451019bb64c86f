package netctl

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func ack(t testing.TB, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	base := []dhcpv4.Modifier{
		dhcpv4.WithMessageType(dhcpv4.MessageTypeAck),
		dhcpv4.WithYourIP(net.IPv4(10, 8, 219, 204)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(10, 8, 219, 1))),
	}
	m, err := dhcpv4.New(append(base, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLeaseFromACK(t *testing.T) {
	now := time.Unix(1e9, 0)
	l, err := leaseFromACK(ack(t,
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 8, 219, 1))),
		dhcpv4.WithOption(dhcpv4.OptDNS(net.IPv4(10, 8, 0, 53), net.IPv4(10, 8, 0, 54))),
		dhcpv4.WithLeaseTime(3600),
		dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{0x05, 0xdc}),
	), now)
	if err != nil {
		t.Fatal(err)
	}
	if l.Address != netip.MustParsePrefix("10.8.219.204/24") || l.Gateway != netip.MustParseAddr("10.8.219.1") ||
		len(l.DNS) != 2 || l.MTU != 1500 || l.Server != netip.MustParseAddr("10.8.219.1") {
		t.Fatalf("lease %+v", l)
	}
	if l.Duration != time.Hour || l.T1 != 30*time.Minute || l.T2 != 3150*time.Second {
		t.Fatalf("timers: %v %v %v (want RFC 2131 defaults)", l.Duration, l.T1, l.T2)
	}
	if !l.ExpiresAt().Equal(now.Add(time.Hour)) || !l.RenewAt().Equal(now.Add(30*time.Minute)) {
		t.Fatal("deadlines")
	}
}

func TestLeaseClasslessRoutesOverrideRouter(t *testing.T) {
	_, dst, _ := net.ParseCIDR("172.16.0.0/16")
	_, def, _ := net.ParseCIDR("0.0.0.0/0")
	l, err := leaseFromACK(ack(t,
		dhcpv4.WithOption(dhcpv4.OptRouter(net.IPv4(10, 8, 219, 99))),
		dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(
			&dhcpv4.Route{Dest: dst, Router: net.IPv4(10, 8, 219, 254)},
			&dhcpv4.Route{Dest: def, Router: net.IPv4(10, 8, 219, 1)},
		)),
	), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if l.Gateway != netip.MustParseAddr("10.8.219.1") {
		t.Errorf("gateway %v: option 121's default must win over option 3 (RFC 3442)", l.Gateway)
	}
	if len(l.Routes) != 1 || l.Routes[0].Dst != netip.MustParsePrefix("172.16.0.0/16") || l.Routes[0].Gateway != netip.MustParseAddr("10.8.219.254") {
		t.Errorf("routes %+v", l.Routes)
	}
	if l.Address.Bits() != 8 {
		t.Errorf("no mask: classful /8 for 10/8, got %v", l.Address)
	}
}

func TestLeaseTimerSanity(t *testing.T) {
	for _, tc := range []struct {
		name           string
		lease, t1, t2  uint32
		wantT1, wantT2 time.Duration
		wantDur        time.Duration
	}{
		{"server T1/T2", 120, 5, 10, 5 * time.Second, 10 * time.Second, 120 * time.Second},
		{"T2 beyond lease", 100, 50, 500, 50 * time.Second, 87500 * time.Millisecond, 100 * time.Second},
		{"T1 beyond T2", 100, 90, 80, 50 * time.Second, 80 * time.Second, 100 * time.Second},
		{"tiny lease clamped", 1, 0, 0, 5 * time.Second, 8750 * time.Millisecond, 10 * time.Second},
	} {
		mods := []dhcpv4.Modifier{dhcpv4.WithLeaseTime(tc.lease)}
		if tc.t1 != 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(time.Duration(tc.t1)*time.Second)))
		}
		if tc.t2 != 0 {
			mods = append(mods, dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(time.Duration(tc.t2)*time.Second)))
		}
		l, err := leaseFromACK(ack(t, mods...), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if l.T1 != tc.wantT1 || l.T2 != tc.wantT2 || l.Duration != tc.wantDur {
			t.Errorf("%s: T1 %v T2 %v lease %v", tc.name, l.T1, l.T2, l.Duration)
		}
	}
}

func TestLeaseRejects(t *testing.T) {
	if _, err := leaseFromACK(nil, time.Now()); err == nil {
		t.Error("nil ACK accepted")
	}
	nak, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeNak))
	if _, err := leaseFromACK(nak, time.Now()); err == nil {
		t.Error("NAK accepted as a lease")
	}
	if _, err := leaseFromACK(ack(t, dhcpv4.WithYourIP(net.IPv4zero)), time.Now()); err == nil {
		t.Error("0.0.0.0 accepted")
	}
	if _, err := leaseFromACK(ack(t, dhcpv4.WithNetmask(net.IPMask{255, 0, 255, 0})), time.Now()); err == nil {
		t.Error("non-contiguous mask accepted")
	}
}

// FuzzLeaseFromPacket: any packet either fails cleanly or gives a lease
// whose timers are ordered and whose address is usable.
func FuzzLeaseFromPacket(f *testing.F) {
	_, dst, _ := net.ParseCIDR("172.16.0.0/16")
	for _, m := range []*dhcpv4.DHCPv4{
		ack(f, dhcpv4.WithNetmask(net.CIDRMask(24, 32)), dhcpv4.WithLeaseTime(120)),
		ack(f, dhcpv4.WithOption(dhcpv4.OptClasslessStaticRoute(&dhcpv4.Route{Dest: dst, Router: net.IPv4(1, 2, 3, 4)}))),
		ack(f, dhcpv4.WithGeneric(dhcpv4.OptionInterfaceMTU, []byte{1})),
	} {
		f.Add(m.ToBytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		l, err := leaseFromACK(p, time.Unix(0, 0))
		if err != nil {
			return
		}
		if !(0 < l.T1 && l.T1 <= l.T2 && l.T2 <= l.Duration && l.Duration >= minLease) {
			t.Fatalf("timers out of order: %v %v %v", l.T1, l.T2, l.Duration)
		}
		if !l.Address.IsValid() || l.Address.Addr().IsUnspecified() || !l.Address.Addr().Is4() {
			t.Fatalf("address %v", l.Address)
		}
		if l.MTU != 0 && (l.MTU < 576 || l.MTU > 9000) {
			t.Fatalf("mtu %d", l.MTU)
		}
	})
}
