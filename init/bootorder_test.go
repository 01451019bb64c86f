package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"edgebox/boards"
	"edgebox/internal/config"
)

// The boot firewall waits for nftables' modules only: every one the board
// lists (netctl's ruleset needs NAT, masquerade, reject and fib too), and
// no device driver.
func TestFirewallModulesQEMU(t *testing.T) {
	l := realModules(t)
	devices := []string{
		"pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", // e1000e LAN
		"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", // ICH9 AHCI
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", // virtio-net WAN
	}
	qemu := boards.Profiles["qemu"]
	first, _ := splitBootModules(l, devices, qemu.Modules, qemu.Watchdog)
	fw := firewallModules(first)
	for _, m := range []string{"nf_tables", "nft_ct", "nft_nat", "nft_masq", "nft_chain_nat", "nft_reject_inet", "nft_fib_inet"} {
		if !slices.Contains(fw, m) {
			t.Errorf("the firewall does not wait for %s (waits for %v)", m, fw)
		}
	}
	for _, m := range []string{"e1000e", "ahci", "ext4", "virtio_net", "xhci_pci"} {
		if slices.Contains(fw, m) {
			t.Errorf("the firewall waits for %s", m)
		}
	}
	// The firewall's, /perm's and the watchdog's modules load first; the
	// NICs, USB and the power button after them.
	devices = append(devices, "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", // qemu-xhci
		"pci:v00008086d000025ABsv00001AF4sd00001100bc08sc80i00", // i6300esb
		"acpi:LNXPWRBN:")
	first, _ = splitBootModules(l, devices, qemu.Modules, qemu.Watchdog)
	critical, rest := criticalModules(l, devices, first, qemu.Watchdog)
	for _, m := range []string{"nf_tables", "nft_nat", "ext4", "crc32c_generic", "ahci", "i6300esb"} {
		if !slices.Contains(critical, m) {
			t.Errorf("%s is not loaded first: %v", m, critical)
		}
	}
	for _, m := range []string{"e1000e", "virtio_pci", "xhci_pci", "button"} {
		if !slices.Contains(rest, m) {
			t.Errorf("%s is not loaded after the critical modules: %v", m, rest)
		}
	}
	if len(critical)+len(rest) != len(first) {
		t.Errorf("critical %v + rest %v is not the first batch %v", critical, rest, first)
	}
}

func TestNICDevice(t *testing.T) {
	for m, want := range map[string]bool{
		"pci:v00008086d00001539sv00008086sd00000000bc02sc00i00": true,  // igb
		"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01": false, // AHCI
		"virtio:d00000001v00001AF4":                             true,  // virtio-net
		"virtio:d00000002v00001AF4":                             false, // virtio-blk
		"usb:v1199p68C0d0006dc00dsc00dp00icFFiscFFipFFin03":     false,
	} {
		if got := nicDevice(m); got != want {
			t.Errorf("nicDevice(%s) = %v, want %v", m, got, want)
		}
	}
}

func TestParseLateModule(t *testing.T) {
	if name, secs, ok := parseLateModule("e1000e:20"); !ok || name != "e1000e" || secs != 20 {
		t.Errorf("e1000e:20 -> %q %d %v", name, secs, ok)
	}
	if name, _, ok := parseLateModule("nft-nat:1"); !ok || name != "nft_nat" {
		t.Errorf("nft-nat:1 -> %q %v (module names take _ for -)", name, ok)
	}
	for _, bad := range []string{"", "e1000e", "e1000e:", ":5", "e1000e:-1", "e1000e:x", "e1000e:9999"} {
		if _, _, ok := parseLateModule(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	first, later := []string{"ahci", "e1000e", "ext4"}, []string{"tun"}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f, l, late := debugLateModule("quiet edgebox.debug.late_module=e1000e:3", first, later, quiet)
	if late == nil || !slices.Equal(f, []string{"ahci", "ext4"}) || !slices.Equal(l, later) {
		t.Errorf("late e1000e: first %v later %v late %v", f, l, late != nil)
	}
	if !slices.Equal(first, []string{"ahci", "e1000e", "ext4"}) {
		t.Errorf("the caller's list was changed: %v", first)
	}
	if f, _, late := debugLateModule("quiet", first, later, quiet); late != nil || !slices.Equal(f, first) {
		t.Errorf("no setting: first %v late %v", f, late != nil)
	}
}

// A LAN port the boot firewall cannot name (a board knowing its NICs by
// PCI address, the driver not in yet) makes init wait for the NIC drivers
// before loading it; one named by the profile or the config does not.
func TestBootLANNamed(t *testing.T) {
	n := config.DefaultNetwork()
	if !bootLANNamed(n, boards.Profiles["qemu"]) {
		t.Error("qemu: lan1 has the kernel name eth0 in the profile")
	}
	apu := boards.Profiles["apu2"]
	if bootLANNamed(n, apu) {
		t.Error("apu2 with no NIC registered: lan1 is known by PCI address only")
	}
	n.Interfaces = map[string]string{"lan1": "enp2s0"}
	if !bootLANNamed(n, apu) {
		t.Error("apu2 with network.interfaces naming lan1")
	}
}

// The NIC drivers load in the order of their cards' PCI addresses, so
// that the kernel names the ports as a name-based profile expects (QEMU:
// e1000e's LAN eth0 before virtio-net's WAN eth1), whatever sorts first.
func TestNICModulesInBusOrder(t *testing.T) {
	l := realModules(t)
	sys := t.TempDir()
	for addr, alias := range map[string]string{
		"0000:00:02.0": "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", // e1000e
		"0000:00:03.0": "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", // virtio-net
		"0000:00:01.0": "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", // AHCI: no NIC
		"0000:00:04.0": "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", // a second e1000e
	} {
		dir := filepath.Join(sys, "bus/pci/devices", addr)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "modalias"), []byte(alias+"\n"), 0o644)
	}
	first := []string{"ahci", "e1000e", "ext4", "virtio_pci"}
	if got, want := nicModules(l, sys, first), []string{"e1000e", "virtio_pci"}; !slices.Equal(got, want) {
		t.Errorf("NIC drivers %v, want %v", got, want)
	}
	os.Rename(filepath.Join(sys, "bus/pci/devices/0000:00:03.0"), filepath.Join(sys, "bus/pci/devices/0000:00:00.5"))
	if got, want := nicModules(l, sys, first), []string{"virtio_pci", "e1000e"}; !slices.Equal(got, want) {
		t.Errorf("virtio-net's card first: NIC drivers %v, want %v", got, want)
	}
	if got := nicModules(l, sys, []string{"ahci"}); len(got) != 0 {
		t.Errorf("drivers not in the first batch: %v", got)
	}
}
