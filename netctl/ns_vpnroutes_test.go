package netctl_test

import (
	"net/netip"
	"testing"
	"time"
)

// TestNamespaceRedirectGatewayKeepsUplinkReplies: a VPN profile with
// "redirect-gateway def1" (in the profile or pushed by the server, as most
// pfSense and Access Server set-ups do) makes openvpn add 0.0.0.0/1 and
// 128.0.0.0/1 through the tunnel. That may take the box's own traffic, but
// it must not steal the answers to what reached the box on an uplink's
// address (an admin on the WAN address, a SIP peer on the LTE address):
// those leave by their uplink, or the ISP drops them. The routes are added
// here as openvpn adds them, on a tun device nobody reads, as a tunnel whose server drops what it did not send.
func TestNamespaceRedirectGatewayKeepsUplinkReplies(t *testing.T) {
	t.Parallel()
	r := startFailoverRig(t, "d1", baseConfig())
	run(t, "ip", "netns", "exec", r.inet, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1",
		"net.ipv4.conf.wanp.rp_filter=1", "net.ipv4.conf.ltep.rp_filter=1")
	serve(t, r.boxNS, "0.0.0.0:5061") // firewall.open_tcp
	st := r.status()
	wanAddr := netip.MustParsePrefix(uplink(st, "wan").Address).Addr().String()
	lteAddr := netip.MustParsePrefix(uplink(st, "modem").Address).Addr().String()
	for _, addr := range []string{wanAddr, lteAddr} {
		if seen, err := dialFromSource(r.inetNS, internetIP, addr+":5061", 3*time.Second); err != nil || seen != internetIP {
			t.Fatalf("internet -> %s before the tunnel: %q, %v", addr, seen, err)
		}
	}

	// What openvpn does for redirect-gateway def1.
	run(t, "ip", "-n", r.box, "tuntap", "add", "dev", "tun9", "mode", "tun")
	run(t, "ip", "-n", r.box, "addr", "add", "10.250.0.2/24", "dev", "tun9")
	run(t, "ip", "-n", r.box, "link", "set", "tun9", "up")
	run(t, "ip", "-n", r.box, "route", "add", "0.0.0.0/1", "via", "10.250.0.1", "dev", "tun9")
	run(t, "ip", "-n", r.box, "route", "add", "128.0.0.0/1", "via", "10.250.0.1", "dev", "tun9")

	for _, addr := range []string{wanAddr, lteAddr} {
		if seen, err := dialFromSource(r.inetNS, internetIP, addr+":5061", 3*time.Second); err != nil || seen != internetIP {
			t.Errorf("internet -> %s with redirect-gateway def1 routes: %q, %v (the answer went into the tunnel)", addr, seen, err)
		}
	}
}
