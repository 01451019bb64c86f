package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
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
	plan, err := firewall.Boot(n, bootRoles(board))
	if err != nil {
		log.Error("boot firewall NOT loaded: the uplinks are open until netctl loads its own", "err", err)
		return
	}
	log.Info("boot firewall loaded: inbound on uplinks dropped until netctl takes over", "lan", plan.LAN)
}

// closedFirewall loads the table init holds before /perm, where the
// config (which ports are LAN, the management ports) is: replies and
// loopback only, nothing else in, nothing forwarded. It lets the LAN
// ports' links come up (and their NICs negotiate) while /perm is checked
// and mounted; bootFirewall replaces it. It reports whether it is in.
func closedFirewall(log *slog.Logger) bool {
	if _, err := firewall.Boot(config.Network{}, nil); err != nil {
		log.Error("closed firewall NOT loaded: the LAN links wait for the boot firewall", "err", err)
		return false
	}
	return true
}

// bootRoles names the board's NIC roles for the boot firewall: the
// interfaces present, and a NIC whose driver has not registered it yet
// under the profile's kernel name.
func bootRoles(board boards.Profile) map[string]string { return bootRolesIn(board, "/sys") }

// bootRolesIn is bootRoles with sysfs at sysRoot. The kernel name stands
// in only while no interface has it: one that has it and that the board
// refused for the role (a USB device, boards.Interfaces) is no LAN port
// that is late, and must not get the LAN's accepts (fifth review).
func bootRolesIn(board boards.Profile, sysRoot string) map[string]string {
	roles := board.Interfaces(sysRoot)
	for _, nic := range board.NICs {
		if roles[nic.Role] == "" && nic.Name != "" {
			if _, err := os.Lstat(filepath.Join(sysRoot, "class/net", nic.Name)); err != nil {
				roles[nic.Role] = nic.Name
			}
		}
	}
	return roles
}

// bootLANNamed reports whether the boot firewall can name every LAN port
// now: explicitly, by network.interfaces, or by the board (present or by
// kernel name). A LAN port it cannot name would be left out of the table.
func bootLANNamed(n config.Network, board boards.Profile) bool {
	roles := bootRoles(board)
	for _, p := range n.LAN {
		if p.Interface == "" && n.Interfaces[p.Role] == "" && roles[p.Role] == "" {
			return false
		}
	}
	return true
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
