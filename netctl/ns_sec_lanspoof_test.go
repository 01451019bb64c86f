package netctl_test

import (
	"net"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestNamespaceLANSpoofedSourceDropped (third review): as through the VPN
// (TestNamespaceVPNSpoofedSourceDropped), a LAN host could send with the
// address of a PBX on the internet, or of an admin behind the VPN, and be
// taken for it by a service that trusts that source. A packet from a LAN
// port must now have a source the box routes back through that port. The
// LAN host's own address still arrives, and so does a DHCP request from
// 0.0.0.0 (the LAN's DHCP server).
func TestNamespaceLANSpoofedSourceDropped(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ls")
	r.writeConfig(staticConfig(boxWANAddr + "/24"))
	r.startNetctl()
	r.waitFor("firewall", 20*time.Second, func() (bool, string) { return r.status().Firewall.Applied, "" })
	const internetPBX = "203.0.113.5"
	run(t, "ip", "-n", r.lan, "addr", "add", internetPBX+"/32", "dev", "lo")
	var box *net.UDPConn
	if err := testenv.DoInHandle(r.boxNS, func() error {
		var err error
		box, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5060})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	send := func(src string) { sendUDPFrom(t, r.lanNS, src, lanBoxAddr, "MESSAGE from "+src) }
	got := func() string { return readDatagram(box) }
	send(internetPBX)
	if m := got(); m != "" {
		t.Errorf("the box took %q from the LAN with %s as source, want dropped", m, internetPBX)
	}
	send(lanHostAddr)
	if m := got(); m != "MESSAGE from "+lanHostAddr {
		t.Errorf("from the LAN host itself: %q, want the datagram", m)
	}
}
