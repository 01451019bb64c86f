package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"

	"edgebox/internal/testenv"
)

// TestLANRouterAdvertIgnored: any host on the LAN (or the VPN's tap) can
// send an IPv6 router advertisement. Linux takes it by default: an IPv6
// address and a default route via that host, which then carries every
// connection of the box to a dual-stack name (PBX, VPN server, NTP) -- a
// man in the middle chosen by the LAN. With the box's settings applied
// (as init does, after the NICs are up) an advertisement changes nothing.
// Before the fix the route appeared.
func TestLANRouterAdvertIgnored(t *testing.T) {
	box := testenv.NewNetns(t, testenv.UniqueName("ra-box"))
	lan := testenv.NewNetns(t, testenv.UniqueName("ra-lan"))
	box.IP("link", "add", "lan0", "type", "veth", "peer", "name", "evil", "netns", lan.Name)
	// The NIC exists before the settings are applied, as on the box.
	if err := box.Do(func() error {
		// net.core.* belongs to the host's first namespace: the rest
		// is per namespace, as on the box.
		perNS := map[string]string{}
		for k, v := range boxSysctls {
			if strings.Contains(k, "/conf/") {
				perNS[k] = v
			}
		}
		for _, err := range applySysctls("/proc/sys", perNS) {
			t.Error(err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	box.IP("link", "set", "lan0", "up")
	lan.IP("link", "set", "evil", "up")
	lan.IP("-6", "addr", "add", "fe80::bad/64", "dev", "evil", "nodad")
	time.Sleep(time.Second) // the box's link-local address leaves DAD

	ra := []byte{134, 0, 0, 0, // type, code, checksum (the kernel's)
		64, 0, 0x07, 0x08, // hop limit, flags, router lifetime 1800 s
		0, 0, 0, 0, 0, 0, 0, 0, // reachable, retrans
		3, 4, 64, 0xc0, // prefix information: length 64, on-link + autonomous
		0, 0, 0x0e, 0x10, 0, 0, 0x0e, 0x10, 0, 0, 0, 0, // valid, preferred, reserved
		0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	send := func() error {
		c, err := icmp.ListenPacket("ip6:ipv6-icmp", "fe80::bad%evil")
		if err != nil {
			return err
		}
		defer c.Close()
		p := c.IPv6PacketConn()
		p.SetMulticastHopLimit(255)
		p.SetHopLimit(255)
		ifi, err := net.InterfaceByName("evil")
		if err != nil {
			return err
		}
		p.SetMulticastInterface(ifi)
		_, err = p.WriteTo(ra, nil, &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: "evil"})
		return err
	}
	for range 3 {
		if err := lan.Do(send); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if out := box.IP("-6", "route", "show", "default"); strings.Contains(out, "fe80::bad") {
		t.Errorf("a LAN host's router advertisement gave the box a default route: %s", strings.TrimSpace(out))
	}
	if out := box.IP("-6", "addr", "show", "dev", "lan0"); strings.Contains(out, "2001:db8:1:") {
		t.Errorf("a LAN host's router advertisement gave the box an address:\n%s", out)
	}
}
