package main

import (
	"log/slog"

	"github.com/vishvananda/netlink"

	"edgebox/boards"
	"edgebox/internal/config"
)

// raiseLAN sets the links of the configured LAN ports up as soon as the
// boot firewall is in. A NIC takes a second or two to negotiate its link
// (e1000e looks every 2 s), which would otherwise start only when netctl
// configures the port, and the setup page waits for it. Only LAN ports:
// an uplink stays down until netctl takes it. netctl adds the addresses.
func raiseLAN(n config.Network, board boards.Profile, log *slog.Logger) {
	names := board.Interfaces("/sys")
	for _, p := range n.LAN {
		name := names[p.Role]
		if name == "" {
			continue
		}
		link, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.LinkSetUp(link)
		}
		if err != nil {
			log.Warn("LAN port link up", "port", p.Role, "interface", name, "err", err)
		}
	}
}
