package main

import (
	"log/slog"

	"github.com/vishvananda/netlink"

	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/internal/firewall"
)

// guardStandIns closes a gap of the boot table on boards that know their
// ports by kernel name (generic, QEMU): a LAN port whose driver had not
// registered it yet is named by the profile's kernel name, and a USB
// network device (a modem's CDC Ethernet, any stick) that registered that
// name later got the LAN's accepts (management ports, DHCP, DNS) until
// netctl's table came, or for good if netctl never started (fifth review
// left it). Watching the links, a stand-in name that appears on a device
// the board refuses for the role is dropped from the boot table; a
// reload happens only while the boot table is in (firewall.ReloadBoot),
// and the watch ends once netctl's table has replaced it. Sixth review.
//
// subscribe and reload are netlink's and the firewall's; tests put them
// in a namespace.
func guardStandIns(n config.Network, board boards.Profile, sysRoot string, log *slog.Logger,
	subscribe func(chan<- netlink.LinkUpdate, <-chan struct{}) error,
	reload func(config.Network, map[string]string) (firewall.BootPlan, bool, error)) {
	standIn := map[string]string{} // kernel name -> role, names absent at the load
	roles := bootRolesIn(board, sysRoot)
	present := board.Interfaces(sysRoot)
	for _, nic := range board.NICs {
		if nic.Name != "" && roles[nic.Role] == nic.Name && present[nic.Role] == "" {
			standIn[nic.Name] = nic.Role
		}
	}
	if len(standIn) == 0 {
		return
	}
	updates, done := make(chan netlink.LinkUpdate, 16), make(chan struct{})
	defer close(done)
	if err := subscribe(updates, done); err != nil {
		log.Warn("boot firewall: no link events; a USB device taking a LAN port's name keeps its accepts until netctl's table", "err", err)
		return
	}
	for u := range updates {
		if u.Link == nil {
			continue
		}
		name := u.Attrs().Name
		role, ok := standIn[name]
		if !ok {
			continue
		}
		now := bootRolesIn(board, sysRoot)
		if now[role] == name {
			if board.Interfaces(sysRoot)[role] == name {
				delete(standIn, name) // the port itself: nothing more to watch
				if len(standIn) == 0 {
					return
				}
			}
			continue
		}
		delete(standIn, name)
		plan, in, err := reload(n, now)
		switch {
		case err != nil:
			log.Error("boot firewall: a USB device took a LAN port's name and the table was NOT reloaded without it", "interface", name, "role", role, "err", err)
		case !in:
			return // netctl's table is in: it never trusts such a device
		default:
			log.Warn("boot firewall: a device the board does not take for the LAN port registered its name; its accepts removed", "interface", name, "role", role, "lan", plan.LAN)
		}
		if len(standIn) == 0 {
			return
		}
	}
}
