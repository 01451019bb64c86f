package boards

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSec5USBNetworkDeviceTakesNoWiredRole: boards without PCI addresses
// in their profile (the generic profile, QEMU) find their ports by kernel
// name, and a USB network device is named ethN by the kernel when its
// MAC is globally administered (usbnet, cdc_ether). A modem (or any USB
// stick) that says so became "eth1" on a generic box with one wired port,
// and so the LAN: the mobile network was trusted, and reached the web UI
// and every port of the box; with a second wired port probed later, the
// WAN's cable became "eth1" instead. A role found by name other than the
// modem's is no USB device now: the port is then missing, which the boot
// firewall and netctl take as closed. Fifth review.
func TestSec5USBNetworkDeviceTakesNoWiredRole(t *testing.T) {
	root := t.TempDir()
	link := func(name, dev string) {
		d := filepath.Join(root, "devices", dev)
		os.MkdirAll(d, 0o755)
		os.MkdirAll(filepath.Join(root, "class/net", name), 0o755)
		if err := os.Symlink(d, filepath.Join(root, "class/net", name, "device")); err != nil {
			t.Fatal(err)
		}
	}
	link("eth0", "pci0000:00/0000:00:02.0/0000:01:00.0")
	link("eth1", "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0") // the modem's CDC Ethernet
	got := Generic.Interfaces(root)
	if got["wan"] != "eth0" {
		t.Errorf("wan = %q, want the PCI card eth0", got["wan"])
	}
	if got["lan1"] != "" {
		t.Errorf("lan1 = %q: a USB network device (the modem) became the trusted LAN", got["lan1"])
	}

	// QEMU's modem is a USB device by name, and keeps its role.
	link("usb0", "pci0000:00/0000:00:05.0/usb2/2-1/2-1:1.0")
	if got := Profiles["qemu"].Interfaces(root); got["modem"] != "usb0" || got["lan1"] != "eth0" || got["wan"] != "" {
		t.Errorf("qemu roles %v: want modem usb0, lan1 eth0, no wan (eth1 is USB)", got)
	}
}
