package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"edgebox/internal/kmod"
)

// The boot loads its modules in two batches. The first holds what the
// boot's critical path needs: the disk for /perm (its controller's driver
// and ext4; the disk's class driver, sd_mod or mmc_block, binds the disk
// and so comes by hotplug once the controller has found one), nftables
// for the boot firewall, the network cards, the watchdog, the power
// button and the USB host controllers. The second (PPP, tun,
// FAT, the firmware config device, sensors, LEDs) starts once the
// services are up; USB devices get their drivers by hotplug. Under QEMU
// without KVM the box has one slow CPU, and every module loaded on the way
// to /healthz is CPU time the services' start waits for; on an APU it only
// saves a little, but the order is the same.

// earlyDevice reports whether a device's modalias is one the boot waits
// for: a PCI mass-storage controller (class 01), network controller (02),
// SD host (08 05) or USB host controller (0C 03), or a virtio network or
// block device. USB is early because netctl names its uplinks when it
// starts: QEMU's LTE data port (usb-net, "usb0" in the board's role map)
// that enumerated after netctl's start was never used
// (TestQEMUBootSuperviseAndPowerOff: "the modem has no network interface").
func earlyDevice(modalias string) bool {
	if class, sub, ok := pciClass(modalias); ok {
		return class == "01" || class == "02" || class == "08" && sub == "05" || class == "0C" && sub == "03"
	}
	if rest, ok := strings.CutPrefix(modalias, "virtio:d"); ok {
		return strings.HasPrefix(rest, "00000001v") || strings.HasPrefix(rest, "00000002v")
	}
	return false
}

// nicDevice reports whether a device's modalias is a network card: PCI
// class 02 or a virtio network device.
func nicDevice(modalias string) bool {
	if class, _, ok := pciClass(modalias); ok {
		return class == "02"
	}
	return strings.HasPrefix(modalias, "virtio:d00000001v")
}

// pciClass returns a PCI modalias's class and subclass ("bcCCscSS").
func pciClass(modalias string) (class, sub string, ok bool) {
	rest, ok := strings.CutPrefix(modalias, "pci:")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, "bc")
	if i < 0 || len(rest) < i+8 {
		return "", "", false
	}
	return rest[i+2 : i+4], rest[i+6 : i+8], true
}

// earlyModule reports whether a board module binding no device belongs to
// the first batch: the filesystem and disk drivers /perm needs and the
// nftables modules of the boot firewall (which must be in before any
// interface gets an address).
func earlyModule(name string) bool {
	name = kmod.Name(name)
	switch name {
	case "ext4", "crc32c_generic", "sd_mod", "mmc_block":
		return true
	}
	return firewallModule(name)
}

// firewallModule reports whether a module is one of nftables'.
func firewallModule(name string) bool {
	name = kmod.Name(name)
	return name == "nf_tables" || strings.HasPrefix(name, "nft_") || strings.HasPrefix(name, "nf_")
}

// firewallModules are the nftables modules among the boot's: the boot
// firewall waits for these, not for the whole first batch.
func firewallModules(first []string) []string {
	var out []string
	for _, m := range first {
		if firewallModule(m) {
			out = append(out, m)
		}
	}
	return out
}

// criticalModules splits the first batch into what the boot firewall,
// /perm and the watchdog need (nftables, ext4, the disk controllers'
// drivers, the watchdog's) and the rest (NICs, USB hosts, the power
// button), which loads once the critical part is in.
func criticalModules(l *kmod.Loader, modaliases, first []string, watchdog string) (critical, rest []string) {
	var disks []string
	for _, m := range modaliases {
		if diskDevice(m) {
			disks = append(disks, m)
		}
	}
	diskDrivers := l.ForDevices(disks)
	for _, m := range first {
		if earlyModule(m) || slices.Contains(diskDrivers, m) || watchdog != "" && m == kmod.Name(watchdog) {
			critical = append(critical, m)
		} else {
			rest = append(rest, m)
		}
	}
	return critical, rest
}

// diskDevice reports whether a device's modalias is a disk controller: PCI
// mass storage (class 01) or SD host (08 05), or a virtio block device.
func diskDevice(modalias string) bool {
	if class, sub, ok := pciClass(modalias); ok {
		return class == "01" || class == "08" && sub == "05"
	}
	return strings.HasPrefix(modalias, "virtio:d00000002v")
}

// splitBootModules divides the boot's modules into the first batch and the
// later one. A device-bound module is early when any device asking for it
// is; the board's watchdog driver is always early (it is armed at once),
// and so are the power button's (button, evdev): init watches the button
// from the end of its boot on, and an ACPI power-off request that comes
// before the driver is in is lost.
func splitBootModules(l *kmod.Loader, modaliases, board []string, watchdog string) (first, later []string) {
	var earlyDevs, lateDevs []string
	for _, m := range modaliases {
		if earlyDevice(m) {
			earlyDevs = append(earlyDevs, m)
		} else {
			lateDevs = append(lateDevs, m)
		}
	}
	var earlyBoard, lateBoard []string
	for _, m := range board {
		if earlyModule(m) {
			earlyBoard = append(earlyBoard, m)
		} else {
			lateBoard = append(lateBoard, m)
		}
	}
	first = l.BootModules(earlyDevs, earlyBoard)
	for _, m := range l.BootModules(lateDevs, lateBoard) {
		switch {
		case slices.Contains(first, m):
		case watchdog != "" && m == kmod.Name(watchdog), m == "button", m == "evdev":
			first = append(first, m)
		default:
			later = append(later, m)
		}
	}
	slices.Sort(first)
	return first, later
}

// allUp returns an OnUp hook that calls then once, when n different
// services have come up.
func allUp(n int, then func()) func(name string) {
	var mu sync.Mutex
	up := map[string]bool{}
	return func(name string) {
		mu.Lock()
		up[name] = true
		done := len(up) == n
		mu.Unlock()
		if done {
			then()
		}
	}
}

// nicModules returns the drivers, among the first batch's, of the network
// cards on the PCI bus, in the order of the cards' addresses (sysfs lists
// bus/pci/devices by address), each once.
func nicModules(l *kmod.Loader, sysRoot string, first []string) []string {
	ents, _ := os.ReadDir(filepath.Join(sysRoot, "bus/pci/devices"))
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(sysRoot, "bus/pci/devices", e.Name(), "modalias"))
		if err != nil || !nicDevice(strings.TrimSpace(string(b))) {
			continue
		}
		for _, m := range l.ForDevices([]string{strings.TrimSpace(string(b))}) {
			if slices.Contains(first, m) && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}
