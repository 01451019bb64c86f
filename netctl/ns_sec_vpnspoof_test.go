package netctl_test

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"edgebox/internal/testenv"

	"github.com/vishvananda/netns"
)

// TestNamespaceVPNSpoofedSourceDropped (third review): the gateway takes
// SIP requests (an INVITE dials a SIM, a MESSAGE sends an SMS) from its
// PBX by source address. The second review dropped LAN sources arriving
// on an uplink; the VPN was left open, and the box sets no rp_filter, so
// a taken-over VPN server could send through the tunnel with a LAN PBX's
// address, or an internet PBX's, as source, and be taken for the PBX.
// Now a packet from a VPN interface must have a source the box routes back
// through that interface (nft fib, strict reverse path). The VPN host's
// own address still arrives.
func TestNamespaceVPNSpoofedSourceDropped(t *testing.T) {
	t.Parallel()
	r := newRig(t, "vs")
	vpnNS := "nv" + r.box[2:]
	run(t, "ip", "netns", "add", vpnNS)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", vpnNS).Run() })
	run(t, "ip", "link", "add", "tun7", "netns", r.box, "type", "veth", "peer", "name", "vpnc", "netns", vpnNS)
	run(t, "ip", "-n", r.box, "addr", "add", "10.8.0.1/24", "dev", "tun7")
	run(t, "ip", "-n", r.box, "link", "set", "tun7", "up")
	run(t, "ip", "-n", vpnNS, "addr", "add", "10.8.0.2/24", "dev", "vpnc")
	run(t, "ip", "-n", vpnNS, "link", "set", "vpnc", "up")
	run(t, "ip", "-n", vpnNS, "link", "set", "lo", "up")
	run(t, "ip", "-n", vpnNS, "route", "add", "default", "via", "10.8.0.1")
	// The server owns the addresses it forges.
	const internetPBX = "203.0.113.5"
	run(t, "ip", "-n", vpnNS, "addr", "add", lanHostAddr+"/32", "dev", "lo")
	run(t, "ip", "-n", vpnNS, "addr", "add", internetPBX+"/32", "dev", "lo")
	vpn, err := netns.GetFromName(vpnNS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vpn.Close() })

	r.writeConfig(staticConfig(boxWANAddr + "/24"))
	r.startNetctl()
	r.waitFor("firewall", 20*time.Second, func() (bool, string) { return r.status().Firewall.Applied, "" })
	var box *net.UDPConn
	if err := testenv.DoInHandle(r.boxNS, func() error {
		var err error
		box, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5060})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	send := func(src string) { sendUDPFrom(t, vpn, src, "10.8.0.1", "MESSAGE from "+src) }
	got := func() string { return readDatagram(box) }
	for _, src := range []string{lanHostAddr, internetPBX} {
		send(src)
		if m := got(); m != "" {
			t.Errorf("the box took %q through the VPN with %s as source, want dropped", m, src)
		}
	}
	send("10.8.0.2")
	if m := got(); m != "MESSAGE from 10.8.0.2" {
		t.Errorf("from the VPN host itself: %q, want the datagram", m)
	}
}
