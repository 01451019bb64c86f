package netctl_test

import (
	"net"
	"testing"

	"edgebox/internal/testenv"
)

// TestNamespaceSpoofedLANSourceDropped: services that trust a source
// address (the gateway takes requests from its PBX, often on the LAN or
// behind the VPN) must not be fooled by a packet from the internet that
// claims such an address. Here a WAN neighbour sends UDP to an open port
// of the box with the LAN host's address as source; it is dropped at the
// uplink, also when it looks like a reply to a flow the box has with that
// host (conntrack does not look at interfaces). Before the fix the box's
// socket received both. The same datagram from the LAN still arrives.
func TestNamespaceSpoofedLANSourceDropped(t *testing.T) {
	t.Parallel()
	r := newRig(t, "sp")
	r.writeConfig(staticConfig(boxWANAddr + "/24"))
	r.startNetctl()
	// The neighbour owns the LAN host's address too, to send from it.
	run(t, "ip", "-n", r.inet, "addr", "add", lanHostAddr+"/32", "dev", "lo")
	var box *net.UDPConn
	if err := testenv.DoInHandle(r.boxNS, func() error {
		var err error
		box, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5060})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	// A flow the box has with the LAN host (its PBX, say): conntrack now
	// has LAN host:5070 -> box:5060 as the reply direction.
	box.WriteToUDP([]byte("OPTIONS"), &net.UDPAddr{IP: net.ParseIP(lanHostAddr), Port: 5070})
	send := func(ns string, dst string) {
		t.Helper()
		h := r.inetNS
		if ns == "lan" {
			h = r.lanNS
		}
		sendUDPFrom(t, h, lanHostAddr, dst, "INVITE from "+ns)
	}
	got := func() string { return readDatagram(box) }
	send("wan", boxWANAddr)
	if m := got(); m != "" {
		t.Errorf("the box took %q from the WAN with the LAN host's address as source, want dropped", m)
	}
	send("lan", lanBoxAddr)
	if m := got(); m != "INVITE from lan" {
		t.Errorf("from the LAN host itself: %q, want the datagram", m)
	}
}
