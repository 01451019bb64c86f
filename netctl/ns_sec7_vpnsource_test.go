package netctl_test

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"edgebox/internal/testenv"

	"github.com/vishvananda/netns"
)

// TestSec7UplinkCannotForgeVPNSources (seventh review): the gateway takes
// SIP requests from its PBX by source address, and a fleet's PBX often
// sits at head office, reached through the VPN (a route the VPN server
// pushes, here 10.20.0.0/24 via tun7). The uplinks dropped only the LAN's
// subnets and loopback as sources: a WAN neighbour (or the carrier) sent
// to SIP's open port with the head-office PBX's address as source and was
// taken for the PBX (an INVITE dials a SIM, a MESSAGE sends an SMS). A
// packet from an uplink whose source the box routes back through a VPN or
// LAN interface is now dropped (nft fib saddr oifname), whatever routes
// the VPN pushed. An honest internet source still arrives on the open
// port, and the PBX through the tunnel too.
func TestSec7UplinkCannotForgeVPNSources(t *testing.T) {
	t.Parallel()
	r := newRig(t, "s7")
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
	const hqPBX = "10.20.0.5"
	run(t, "ip", "-n", vpnNS, "addr", "add", hqPBX+"/32", "dev", "lo")
	// the route the VPN server pushed to head office
	run(t, "ip", "-n", r.box, "route", "add", "10.20.0.0/24", "via", "10.8.0.2", "dev", "tun7")
	// the WAN neighbour owns the address it forges
	run(t, "ip", "-n", r.inet, "addr", "add", hqPBX+"/32", "dev", "lo")

	cfg := staticConfig(boxWANAddr + "/24")
	cfg["network"].(map[string]any)["firewall"].(map[string]any)["open_udp"] = []any{"5060"}
	r.writeConfig(cfg)
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
	sendUDPFrom(t, r.inetNS, hqPBX, boxWANAddr, "INVITE forged on the WAN")
	if m := readDatagram(box); m != "" {
		t.Errorf("the box took %q from the WAN with the head-office PBX's address (routed through the VPN) as source, want dropped", m)
	}
	sendUDPFrom(t, r.inetNS, internetIP, boxWANAddr, "INVITE from the internet")
	if m := readDatagram(box); m != "INVITE from the internet" {
		t.Errorf("an honest internet source on the open port: %q, want the datagram", m)
	}
	vpn, err := netns.GetFromName(vpnNS)
	if err != nil {
		t.Fatal(err)
	}
	defer vpn.Close()
	sendUDPFrom(t, vpn, hqPBX, "10.8.0.1", "INVITE from the PBX")
	if m := readDatagram(box); m != "INVITE from the PBX" {
		t.Errorf("the PBX through the tunnel: %q, want the datagram", m)
	}
}
