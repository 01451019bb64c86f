package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"edgebox/boards"
	"edgebox/internal/kmod"
)

// realModules opens Debian's depmod output (internal/kmod/testdata) the way
// init opens the image's modules directory.
func realModules(t *testing.T) *kmod.Loader {
	t.Helper()
	src := filepath.Join("..", "internal", "kmod", "testdata")
	dir := t.TempDir()
	for _, name := range []string{"modules.dep", "modules.alias", "modules.builtin"} {
		in, err := os.Open(filepath.Join(src, name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		in.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	soft, err := os.ReadFile(filepath.Join(src, "modules.softdep"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "modules.softdep"), soft, 0o644)
	l, err := kmod.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The QEMU test machine's devices: the boot's first batch holds the disk,
// the NICs, USB, the watchdog, the power button, ext4 and nftables; PPP,
// tun and FAT wait for the services.
func TestSplitBootModulesQEMU(t *testing.T) {
	l := realModules(t)
	devices := []string{
		"pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", // e1000e LAN
		"pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01", // ICH9 AHCI
		"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", // qemu-xhci
		"pci:v00008086d000025ABsv00001AF4sd00001100bc08sc80i00", // i6300esb watchdog
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", // virtio-net WAN
		"acpi:LNXPWRBN:",
		"acpi:QEMU0002:",
	}
	qemu := boards.Profiles["qemu"]
	first, later := splitBootModules(l, devices, qemu.Modules, qemu.Watchdog)
	for _, m := range []string{"ahci", "e1000e", "virtio_pci", "i6300esb", "ext4", "crc32c_generic", "nf_tables", "nft_nat", "nft_fib_inet", "button", "xhci_pci"} {
		if !slices.Contains(first, m) {
			t.Errorf("%s is not in the first batch %v", m, first)
		}
	}
	for _, m := range []string{"tun", "vfat", "ppp_async", "usbserial", "qemu_fw_cfg"} {
		if !slices.Contains(later, m) {
			t.Errorf("%s is not in the later batch %v", m, later)
		}
		if slices.Contains(first, m) {
			t.Errorf("%s is in the first batch %v", m, first)
		}
	}
	for _, m := range later {
		if slices.Contains(first, m) {
			t.Errorf("%s is in both batches", m)
		}
	}
}

func TestEarlyDevice(t *testing.T) {
	for m, want := range map[string]bool{
		"pci:v00008086d00001539sv00008086sd00000000bc02sc00i00": true,  // igb
		"pci:v00001022d00007813sv00001022sd00007813bc08sc05i01": true,  // APU SD host
		"pci:v00001022d00007814sv00001022sd00007814bc0Csc03i30": true,  // xHCI
		"pci:v00001022d0000780Bsv00001022sd0000780Bbc0Csc05i00": false, // SMBus (sp5100_tco: by name)
		"virtio:d00000001v00001AF4":                             true,
		"virtio:d00000004v00001AF4":                             false, // rng
		"usb:v1199p68C0d0006dc00dsc00dp00icFFiscFFipFFin03":     false,
		"pci:short": false,
	} {
		if got := earlyDevice(m); got != want {
			t.Errorf("earlyDevice(%s) = %v, want %v", m, got, want)
		}
	}
}
