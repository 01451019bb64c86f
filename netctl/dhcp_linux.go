package netctl

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"golang.org/x/sys/unix"
)

// ifaceDHCP is the real dhcpTransport on one interface. DISCOVER and
// rebinding use a raw packet socket (the interface may have no address yet);
// renewing is unicast from the leased address, as RFC 2131 asks.
type ifaceDHCP struct {
	iface string
}

func newXID() dhcpv4.Modifier {
	var x dhcpv4.TransactionID
	rand.Read(x[:])
	return dhcpv4.WithTransactionID(x)
}

func (d ifaceDHCP) Discover(ctx context.Context) (*dhcpv4.DHCPv4, error) {
	c, err := nclient4.New(d.iface, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
	if err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", d.iface, err)
	}
	defer c.Close()
	l, err := c.Request(ctx, dhcpv4.WithRequestedOptions(dhcpParams...))
	if err != nil {
		return nil, fmt.Errorf("dhcp on %s: %w", d.iface, err)
	}
	return l.ACK, nil
}

func (d ifaceDHCP) Renew(ctx context.Context, l *dhcpLease, broadcast bool) (*dhcpv4.DHCPv4, error) {
	if l.ack == nil {
		return nil, errors.New("dhcp: lease has no ACK to renew")
	}
	var c *nclient4.Client
	var err error
	if broadcast || !l.Server.IsValid() {
		c, err = nclient4.New(d.iface, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(2))
	} else {
		var conn net.PacketConn
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				if serr == nil {
					serr = unix.BindToDevice(int(fd), d.iface)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}}
		conn, err = lc.ListenPacket(ctx, "udp4", net.JoinHostPort(l.Address.Addr().String(), "68"))
		if err != nil {
			return nil, fmt.Errorf("dhcp renew on %s: %w", d.iface, err)
		}
		c, err = nclient4.NewWithConn(conn, l.ack.ClientHWAddr,
			nclient4.WithServerAddr(&net.UDPAddr{IP: l.Server.AsSlice(), Port: nclient4.ServerPort}),
			nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(2))
		if err != nil {
			conn.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dhcp renew on %s: %w", d.iface, err)
	}
	defer c.Close()
	nl, err := c.Renew(ctx, &nclient4.Lease{Offer: l.ack, ACK: l.ack}, newXID(), dhcpv4.WithRequestedOptions(dhcpParams...))
	if err != nil {
		return nil, fmt.Errorf("dhcp renew on %s: %w", d.iface, err)
	}
	return nl.ACK, nil
}
