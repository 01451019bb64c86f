package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/firewall"
)

// bootFirewall loads the fail-closed table before any service starts, so
// that nothing on an uplink reaches the box while netctl is starting, has
// died or never runs; netctl replaces the table atomically with the real
// ruleset. A failure is logged and the boot goes on: a box that cannot load
// nftables still needs its LAN.
func bootFirewall(n config.Network, board boards.Profile, log *slog.Logger) {
	roles := board.Interfaces("/sys")
	for _, nic := range board.NICs {
		// A NIC whose driver has not registered it yet still gets its rules
		// under the profile's kernel name.
		if roles[nic.Role] == "" && nic.Name != "" {
			roles[nic.Role] = nic.Name
		}
	}
	plan, err := firewall.Boot(n, roles)
	if err != nil {
		log.Error("boot firewall NOT loaded: the uplinks are open until netctl loads its own", "err", err)
		return
	}
	log.Info("boot firewall loaded: inbound on uplinks dropped until netctl takes over", "lan", plan.LAN)
}

// printLANAddress tells the installer on the serial console where the
// setup page is.
func printLANAddress(w io.Writer, n config.Network) {
	var urls []string
	for _, p := range n.LAN {
		if pre, err := netip.ParsePrefix(p.Address); err == nil {
			urls = append(urls, fmt.Sprintf("http://%s/ (%s)", pre.Addr(), p.Address))
		}
	}
	if len(urls) == 0 {
		fmt.Fprintln(w, "edgebox: no LAN address configured")
		return
	}
	fmt.Fprintf(w, "edgebox: setup page on the LAN port: %s\n", strings.Join(urls, ", "))
}
