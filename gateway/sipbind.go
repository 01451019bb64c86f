package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"edgebox/internal/config"
)

// bindListen resolves a SIP listener bound to an interface: its address
// becomes the interface's own (when the config gives only a port), and its
// socket is tied to the device (SO_BINDTODEVICE). A wildcard socket would
// answer requests for any of the box's addresses, arriving on any link,
// and reply from whichever address the route picks; a socket on one
// interface's address alone still takes that address's packets from other
// links (Linux's weak host model).
func bindListen(l config.GatewaySIPListen) (config.GatewaySIPListen, net.ListenConfig, error) {
	if l.Interface == "" {
		return l, net.ListenConfig{}, nil
	}
	host, port, err := net.SplitHostPort(l.Address)
	if err != nil {
		return l, net.ListenConfig{}, fmt.Errorf("gateway.sip.listen %s: %w", l.Address, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		a, err := interfaceIPv4(l.Interface)
		if err != nil {
			return l, net.ListenConfig{}, err
		}
		l.Address = net.JoinHostPort(a.String(), port)
	}
	dev := l.Interface
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, dev)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("bind to interface %s: %w", dev, serr)
		}
		return nil
	}}
	return l, lc, nil
}

// interfaceIPv4 is the first IPv4 address of interface name.
func interfaceIPv4(name string) (netip.Addr, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("gateway.sip.listen: interface %s: %w", name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("gateway.sip.listen: interface %s: %w", name, err)
	}
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(pn.IP); ok && ip.Unmap().Is4() {
				return ip.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("gateway.sip.listen: interface %s has no IPv4 address yet", name)
}
