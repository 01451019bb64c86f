package netctl

import (
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestSec6LANDHCPFloodDoesNotWritePermForEachPacket: the LAN's DHCP server
// stored its leases on /perm (an atomic, synced write) after every
// REQUEST it acknowledged and every RELEASE, and logged each ACK: a LAN
// host renewing in a loop, or releasing and asking again, wrote the flash
// and the log as fast as it sent, and the server (one loop) answered no
// one else meanwhile. A renewal well inside its lease is not stored now,
// and stores are spaced a second apart, the last change always stored.
// The server on a loopback socket. Sixth review.
func TestSec6LANDHCPFloodDoesNotWritePermForEachPacket(t *testing.T) {
	oldListen := listenLANDHCP
	var server net.PacketConn
	listenLANDHCP = func(string, *net.UDPAddr) (net.PacketConn, error) {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		server = c
		return c, err
	}
	defer func() { listenLANDHCP = oldListen }()
	dir := t.TempDir()
	var logs strings.Builder
	l, err := startLANDHCP("k", "lan0", testPool(), dir, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.conn.Close(); <-l.done }()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(m *dhcpv4.DHCPv4) {
		if _, err := c.WriteTo(m.ToBytes(), server.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	hw := mac(7)
	ask := func() *dhcpv4.DHCPv4 { // INIT-REBOOT for .101
		m, err := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
			dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(192, 168, 1, 101))))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	release, err := dhcpv4.New(dhcpv4.WithHwAddr(hw), dhcpv4.WithMessageType(dhcpv4.MessageTypeRelease),
		dhcpv4.WithClientIP(net.IPv4(192, 168, 1, 101)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const rounds = 300
	for i := range rounds {
		send(ask())
		send(ask()) // a renewal
		if i < rounds-1 {
			send(release)
		}
		time.Sleep(200 * time.Microsecond) // within the socket buffers
	}
	time.Sleep(100 * time.Millisecond)
	elapsed := time.Since(start)
	l.mu.Lock()
	stores := l.stores
	l.mu.Unlock()
	acks := strings.Count(logs.String(), "LAN DHCP lease")
	bound := 2 + int(elapsed/storeSpacing)
	t.Logf("%d REQUEST/renewal/RELEASE rounds in %v: %d stores, %d ACKs logged", rounds, elapsed.Round(time.Millisecond), stores, acks)
	if stores > bound {
		t.Errorf("%d stores of the leases on /perm for %d rounds in %v, want at most %d (one a second)", stores, rounds, elapsed.Round(time.Millisecond), bound)
	}
	if acks > 2 {
		t.Errorf("%d ACKs logged for %d rounds of one host and address, want one line", acks, rounds)
	}
	// The last change is stored, a second later at the most.
	time.Sleep(storeSpacing + 200*time.Millisecond)
	b, err := os.ReadFile(leaseFile(dir, "lan0"))
	if err != nil || !strings.Contains(string(b), "192.168.1.101") {
		t.Errorf("the lease held at the end is not stored: %v %s", err, b)
	}
}
