package modemsim

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// NetdevCarrier returns a Carrier function that sets iface up or down
// (inside the named network namespace when netnsName is set), so the peer
// of a veth sees its carrier come and go like a CDC Ethernet port's.
func NetdevCarrier(iface, netnsName string) (func(up bool) error, func(), error) {
	var h *netlink.Handle
	var closeFn func()
	if netnsName != "" {
		ns, err := netns.GetFromName(netnsName)
		if err != nil {
			return nil, nil, fmt.Errorf("modemsim: netns %s: %w", netnsName, err)
		}
		nh, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("modemsim: netlink in %s: %w", netnsName, err)
		}
		h = nh
		closeFn = nh.Close
	} else {
		nh, err := netlink.NewHandle()
		if err != nil {
			return nil, nil, fmt.Errorf("modemsim: netlink: %w", err)
		}
		h = nh
		closeFn = nh.Close
	}
	if _, err := h.LinkByName(iface); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("modemsim: netdev %s: %w", iface, err)
	}
	return func(up bool) error {
		l, err := h.LinkByName(iface)
		if err != nil {
			return fmt.Errorf("netdev %s: %w", iface, err)
		}
		if up {
			return h.LinkSetUp(l)
		}
		return h.LinkSetDown(l)
	}, closeFn, nil
}
