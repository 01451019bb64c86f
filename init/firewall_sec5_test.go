package main

import (
	"os"
	"path/filepath"
	"testing"

	"edgebox/boards"
)

// TestSec5BootRolesSkipRefusedUSBName: on a board whose ports are kernel
// names (the generic profile), a USB network device (a modem's CDC
// Ethernet with a global MAC) registered as eth1, the LAN's name. The
// board refuses it the role (boards.Interfaces), but the boot table then
// filled the missing role with the profile's name as for a NIC still
// loading, and accepted the management ports, DHCP, DNS and ping on the
// modem until netctl's table came. A name that is taken stays out now; a
// name no interface has yet still stands in. Fifth review.
func TestSec5BootRolesSkipRefusedUSBName(t *testing.T) {
	root := t.TempDir()
	link := func(name, dev string) {
		d := filepath.Join(root, "devices", dev)
		os.MkdirAll(d, 0o755)
		os.MkdirAll(filepath.Join(root, "class/net", name), 0o755)
		if err := os.Symlink(d, filepath.Join(root, "class/net", name, "device")); err != nil {
			t.Fatal(err)
		}
	}
	link("eth1", "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0")
	roles := bootRolesIn(boards.Generic, root)
	if roles["lan1"] != "" {
		t.Errorf("lan1 = %q: the boot table gives a USB device holding the LAN's name the LAN's accepts", roles["lan1"])
	}
	if roles["wan"] != "eth0" {
		t.Errorf("wan = %q, want eth0 (no interface has that name yet: its driver may still load)", roles["wan"])
	}
}
