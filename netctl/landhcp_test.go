package netctl

import (
	"edgebox/api/netapi"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func testPool() *leasePool {
	return newLeasePool("lan0", netip.MustParsePrefix("192.168.1.1/24"),
		netip.MustParseAddr("192.168.1.100"), netip.MustParseAddr("192.168.1.102"), time.Hour)
}

func mac(n byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0, n} }

func discover(t *testing.T, hw net.HardwareAddr) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewDiscovery(hw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func request(t *testing.T, offer *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	m, err := dhcpv4.NewRequestFromOffer(offer)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lease runs DISCOVER, OFFER, REQUEST, ACK for hw.
func lease(t *testing.T, p *leasePool, hw net.HardwareAddr, now time.Time) netip.Addr {
	t.Helper()
	offer, _ := p.answer(discover(t, hw), now)
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("no offer for %s: %v", hw, offer)
	}
	had := p.leases[hw.String()] != nil // a renewal well inside its lease is not stored again
	ack, changed := p.answer(request(t, offer), now)
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck || !changed && !had {
		t.Fatalf("no ack for %s: %v", hw, ack)
	}
	return addrOf(ack.YourIPAddr)
}

func TestLANDHCPLeaseCycle(t *testing.T) {
	p := testPool()
	p.router = true
	p.dns = []netip.Addr{p.server}
	now := time.Unix(1_800_000_000, 0)
	a := lease(t, p, mac(1), now)
	if a != netip.MustParseAddr("192.168.1.100") {
		t.Fatalf("first client got %s", a)
	}
	// The reply carries what a client needs to reach the box and beyond.
	offer, _ := p.answer(discover(t, mac(1)), now)
	if got := offer.Router(); len(got) != 1 || !got[0].Equal(net.IPv4(192, 168, 1, 1)) {
		t.Errorf("router %v", got)
	}
	if got := offer.DNS(); len(got) != 1 || !got[0].Equal(net.IPv4(192, 168, 1, 1)) {
		t.Errorf("dns %v", got)
	}
	if got := offer.DomainName(); got != LANDomain {
		t.Errorf("domain %q", got)
	}
	if got := offer.IPAddressLeaseTime(0); got != time.Hour {
		t.Errorf("lease time %v", got)
	}
	if got := offer.SubnetMask(); net.IP(got).String() != "255.255.255.0" {
		t.Errorf("mask %v", got)
	}
	// The same client gets the same address again; others get others.
	if again := lease(t, p, mac(1), now.Add(time.Minute)); again != a {
		t.Errorf("same client got %s, then %s", a, again)
	}
	b := lease(t, p, mac(2), now)
	c := lease(t, p, mac(3), now)
	if b == a || c == a || b == c {
		t.Fatalf("addresses %s %s %s", a, b, c)
	}
	// Pool full: a fourth client is offered nothing.
	if r, _ := p.answer(discover(t, mac(4)), now); r != nil {
		t.Fatalf("offer from a full pool: %s", r.YourIPAddr)
	}
	// Another client asking for a leased address is refused.
	steal, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac(4)),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IP(a.AsSlice()))))
	if r, changed := p.answer(steal, now); r == nil || r.MessageType() != dhcpv4.MessageTypeNak || changed {
		t.Fatalf("request for another's address: %v changed=%v, want NAK", r, changed)
	}
	// A RELEASE sent with another client's MAC does not free the address.
	rel, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease), dhcpv4.WithHwAddr(mac(4)),
		dhcpv4.WithClientIP(net.IP(a.AsSlice())))
	if _, changed := p.answer(rel, now); changed {
		t.Fatal("a stranger's RELEASE dropped a lease")
	}
	// After expiry the address goes to a new client.
	later := now.Add(2 * time.Hour)
	if d := lease(t, p, mac(4), later); !p.inPool(d) {
		t.Fatalf("after expiry got %s", d)
	}
	if n := len(p.list(later)); n != 1 {
		t.Errorf("%d current leases after expiry, want 1", n)
	}
}

func TestLANDHCPLoadSkipsBadLeases(t *testing.T) {
	p := testPool()
	now := time.Unix(1_800_000_000, 0)
	p.load([]netapi.LANLease{
		{Interface: "lan0", MAC: "02:00:00:00:00:01", Address: "192.168.1.101", Expires: now.Add(time.Hour)},
		{Interface: "lan0", MAC: "02:00:00:00:00:02", Address: "192.168.1.101", Expires: now.Add(time.Hour)}, // same address
		{Interface: "lan0", MAC: "02:00:00:00:00:03", Address: "192.168.1.50", Expires: now.Add(time.Hour)},  // outside the pool
		{Interface: "lan0", MAC: "02:00:00:00:00:04", Address: "192.168.1.102", Expires: now.Add(-time.Hour)},
		{Interface: "lan9", MAC: "02:00:00:00:00:05", Address: "192.168.1.100", Expires: now.Add(time.Hour)},
		{Interface: "lan0", MAC: "not a mac", Address: "192.168.1.100", Expires: now.Add(time.Hour)},
		{Interface: "lan0", MAC: "02:00:00:00:00:06", Address: "garbage", Expires: now.Add(time.Hour)},
	}, now)
	if l := p.list(now); len(l) != 1 || l[0].MAC != "02:00:00:00:00:01" {
		t.Fatalf("loaded %+v", l)
	}
	// A stored lease keeps its address for its client, not for others.
	if a := lease(t, p, mac(7), now); a == netip.MustParseAddr("192.168.1.101") {
		t.Fatal("a stored lease's address went to another client")
	}
	if a := lease(t, p, mac(1), now); a != netip.MustParseAddr("192.168.1.101") {
		t.Fatalf("stored client got %s", a)
	}
}

func TestLANDHCPIgnoresForeignAndRelayed(t *testing.T) {
	p := testPool()
	now := time.Unix(1_800_000_000, 0)
	m := discover(t, mac(1))
	m.GatewayIPAddr = net.IPv4(10, 0, 0, 1)
	if r, _ := p.answer(m, now); r != nil {
		t.Error("answered a relayed packet")
	}
	m = discover(t, mac(1))
	m.OpCode = dhcpv4.OpcodeBootReply
	if r, _ := p.answer(m, now); r != nil {
		t.Error("answered a BOOTREPLY")
	}
	m = discover(t, mac(1))
	m.ClientHWAddr = net.HardwareAddr{1, 2, 3}
	if r, _ := p.answer(m, now); r != nil {
		t.Error("answered a short hardware address")
	}
	// A REQUEST to another server withdraws our offer and gets no answer.
	offer, _ := p.answer(discover(t, mac(1)), now)
	req := request(t, offer)
	req.UpdateOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 168, 1, 254)))
	if r, changed := p.answer(req, now); r != nil || changed || len(p.offers) != 0 {
		t.Errorf("request to another server: %v changed=%v offers=%d", r, changed, len(p.offers))
	}
}

// TestLANDHCPNaksTheOldNetworkAfterAMove: a device plugged in again asks
// for the address it had in the LAN's old network (INIT-REBOOT): it gets
// a NAK, so it asks for a new address at once. A renewal of an address
// outside the subnet (it may be another server's) stays unanswered.
func TestLANDHCPNaksTheOldNetworkAfterAMove(t *testing.T) {
	p := testPool() // 192.168.1.1/24: the LAN moved here from 192.168.7.0/24
	now := time.Unix(1_800_000_000, 0)
	m, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac(1)),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 7, 50))))
	if err != nil {
		t.Fatal(err)
	}
	if r, changed := p.answer(m, now); r == nil || r.MessageType() != dhcpv4.MessageTypeNak || changed {
		t.Errorf("INIT-REBOOT for an address of the old network: %v, want a NAK", r)
	}
	renew, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac(1)),
		dhcpv4.WithClientIP(net.IPv4(192, 168, 7, 50)))
	if r, _ := p.answer(renew, now); r != nil {
		t.Errorf("a renewal of another network's address was answered: %v", r)
	}
	// An INIT-REBOOT for an address of this network is still served.
	a := lease(t, p, mac(2), now)
	again, _ := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest), dhcpv4.WithHwAddr(mac(2)),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(a.AsSlice())))
	if r, _ := p.answer(again, now); r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("INIT-REBOOT for the device's own address: %v, want an ACK", r)
	}
}

// FuzzLANDHCPPacket: any packet from the LAN is answered or ignored
// without a panic, and the leases stay consistent: inside the pool, one
// client per address.
func FuzzLANDHCPPacket(f *testing.F) {
	d, _ := dhcpv4.NewDiscovery(mac(1))
	f.Add(d.ToBytes())
	offer, _ := dhcpv4.NewReplyFromRequest(d, dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer), dhcpv4.WithYourIP(net.IPv4(192, 168, 1, 100)),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IPv4(192, 168, 1, 1))))
	offer.OpCode = dhcpv4.OpcodeBootRequest
	r, _ := dhcpv4.NewRequestFromOffer(offer)
	f.Add(r.ToBytes())
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := dhcpv4.FromBytes(b)
		if err != nil {
			return
		}
		p := testPool()
		now := time.Unix(1_800_000_000, 0)
		lease(t, p, mac(9), now)
		p.answer(m, now)
		p.answer(m, now.Add(time.Second))
		seen := map[string]bool{}
		for _, l := range p.list(now) {
			a := netip.MustParseAddr(l.Address)
			if !p.inPool(a) || seen[l.Address] {
				t.Fatalf("lease %+v outside the pool or duplicated", l)
			}
			seen[l.Address] = true
		}
	})
}
