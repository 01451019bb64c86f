package main

import (
	"log/slog"

	"github.com/vishvananda/netlink"

	"edgebox/boards"
	"edgebox/internal/config"
)

// raiseLAN sets the links of the configured LAN ports up as soon as the
// boot firewall is in and each port's driver has registered it. A NIC
// takes a second or two to negotiate its link (e1000e looks every 2 s),
// which would otherwise start only when netctl configures the port, and
// the setup page waits for it. A port whose driver is still loading is
// raised when it appears (a netlink link event), or at the latest when
// the boot's first module batch is in (afterFirst). Only LAN ports: an
// uplink stays down until netctl takes it. netctl adds the addresses.
func raiseLAN(n config.Network, board boards.Profile, afterFirst func(func()), log *slog.Logger) {
	wanted := func() map[string]string { // interface -> port role
		names := board.Interfaces("/sys")
		out := map[string]string{}
		for _, p := range n.LAN {
			if name := names[p.Role]; name != "" {
				out[name] = p.Role
			}
		}
		return out
	}
	if len(n.LAN) == 0 {
		return
	}
	// Subscribed before looking, so a port registering in between is seen.
	updates, done := make(chan netlink.LinkUpdate, 16), make(chan struct{})
	defer func() {
		close(done)
		if updates != nil {
			go func() { // the subscription closes updates once it has stopped
				for range updates {
				}
			}()
		}
	}()
	if err := netlink.LinkSubscribe(updates, done); err != nil {
		log.Warn("LAN port link up: no link events; raising the ports present", "err", err)
		updates = nil
	}
	firstIn := make(chan struct{})
	afterFirst(func() { close(firstIn) })
	raised := map[string]bool{}
	for {
		for name, role := range wanted() {
			if raised[name] {
				continue
			}
			raised[name] = true
			link, err := netlink.LinkByName(name)
			if err == nil {
				err = netlink.LinkSetUp(link)
			}
			if err != nil {
				log.Warn("LAN port link up", "port", role, "interface", name, "err", err)
			}
		}
		if len(raised) >= len(n.LAN) {
			return
		}
		select {
		case <-updates: // a nil channel (no events) never delivers
		case <-firstIn:
			for name, role := range wanted() { // the drivers are in: a last look
				if !raised[name] {
					if link, err := netlink.LinkByName(name); err == nil {
						err = netlink.LinkSetUp(link)
						if err != nil {
							log.Warn("LAN port link up", "port", role, "interface", name, "err", err)
						}
					}
				}
			}
			return
		}
	}
}
