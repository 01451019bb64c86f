package netctl

import (
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"

	"edgebox/internal/config"
	"edgebox/internal/testenv"

	"github.com/vishvananda/netlink"
)

// TestTunnelRoutesInsideLANRefused: routes a VPN server pushed, as
// openvpn installs them on its tun device, in a namespace: the ones
// inside the LAN's subnet (its lower half, one LAN host), link-local or
// multicast are deleted; the tunnel's own subnet, the company's networks,
// redirect-gateway def1's halves and a supernet around the LAN stay (the
// LAN's own route is more specific than those).
func TestTunnelRoutesInsideLANRefused(t *testing.T) {
	testenv.RequireRoot(t)
	ns := testenv.NewNetns(t, "vpnrt")
	ns.IP("link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
	ns.IP("link", "set", "lan0p", "up")
	ns.IP("addr", "add", "192.168.1.1/24", "dev", "lan0")
	ns.IP("link", "set", "lan0", "up")
	ns.IP("tuntap", "add", "dev", "tun5", "mode", "tun")
	ns.IP("addr", "add", "10.8.0.2/24", "dev", "tun5")
	ns.IP("link", "set", "tun5", "up")
	pushed := []string{"192.168.1.0/25", "192.168.1.77/32", "169.254.10.0/24", "224.1.0.0/16",
		"10.20.0.0/16", "0.0.0.0/1", "128.0.0.0/1", "192.168.0.0/16"}
	for _, r := range pushed {
		ns.IP("route", "add", r, "via", "10.8.0.1", "dev", "tun5")
	}
	s := &Service{log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		cfg: config.Network{LAN: []config.LANPort{{Address: "192.168.1.1/24"}}}}
	var n int
	var left []string
	if err := ns.Do(func() error {
		n = s.pruneTunnelRoutes("tun5")
		l, err := netlink.LinkByName("tun5")
		if err != nil {
			return err
		}
		rs, err := netlink.RouteList(l, netlink.FAMILY_V4)
		for _, r := range rs {
			if r.Dst != nil {
				left = append(left, r.Dst.String())
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"192.168.1.0/25", "192.168.1.77/32", "169.254.10.0/24", "224.1.0.0/16"} {
		if slices.Contains(left, gone) {
			t.Errorf("pushed route %s still through the tunnel", gone)
		}
	}
	for _, kept := range []string{"10.8.0.0/24", "10.20.0.0/16", "0.0.0.0/1", "128.0.0.0/1", "192.168.0.0/16"} {
		if !slices.Contains(left, kept) {
			t.Errorf("route %s was deleted; routes left %v", kept, left)
		}
	}
	if n != 4 {
		t.Errorf("pruned %d routes, want 4", n)
	}
	// the LAN host answers through lan0 again
	var dev string
	ns.Do(func() error {
		rs, err := netlink.RouteGet(net.ParseIP("192.168.1.77"))
		if err == nil && len(rs) > 0 {
			if l, err := netlink.LinkByIndex(rs[0].LinkIndex); err == nil {
				dev = l.Attrs().Name
			}
		}
		return err
	})
	if dev != "lan0" {
		t.Errorf("route to the LAN host 192.168.1.77 via %q, want lan0", dev)
	}
}
