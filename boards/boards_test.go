package boards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectFromDMI(t *testing.T) {
	for _, tc := range []struct {
		dmi   DMI
		want  string
		known bool
	}{
		// Strings seen from PC Engines' coreboot releases and mainline coreboot.
		{DMI{SysVendor: "PC Engines", BoardName: "apu2", ProductName: "apu2"}, "apu2", true},
		{DMI{SysVendor: "PC Engines", BoardName: "PC Engines apu2", ProductName: "PC Engines apu2"}, "apu2", true},
		{DMI{SysVendor: "PC Engines", BoardName: "APU2", ProductName: "APU2"}, "apu2", true},
		{DMI{SysVendor: "PC Engines", BoardName: "apu3", ProductName: "apu3"}, "apu3", true},
		{DMI{SysVendor: "PC Engines", BoardName: "PC Engines apu4", ProductName: "apu4"}, "apu4", true},
		{DMI{SysVendor: "PC Engines", BoardName: "apu6", ProductName: "apu6"}, "apu6", true},
		{DMI{SysVendor: "PC Engines", BoardName: "APU", ProductName: "APU"}, "apu1", true},
		{DMI{SysVendor: "PC Engines", BoardName: "apu2c", ProductName: ""}, "apu2", true},
		{DMI{SysVendor: "QEMU", ProductName: "Standard PC (Q35 + ICH9, 2009)"}, "qemu", true},
		{DMI{SysVendor: "Dell Inc.", BoardName: "0X8DXD", ProductName: "OptiPlex 3020"}, "generic", false},
		{DMI{}, "generic", false},
		{DMI{BoardName: "apu22"}, "generic", false},
	} {
		p, known, why := Detect(tc.dmi, "")
		if p.Name != tc.want || known != tc.known || why == "" {
			t.Errorf("Detect(%+v) = %s %v %q, want %s %v", tc.dmi, p.Name, known, why, tc.want, tc.known)
		}
	}
}

func TestDetectCmdlineOverrides(t *testing.T) {
	p, known, _ := Detect(DMI{BoardName: "apu2"}, "apu4")
	if p.Name != "apu4" || !known {
		t.Fatalf("got %s", p.Name)
	}
	p, known, why := Detect(DMI{BoardName: "apu2"}, "apu9")
	if p.Name != "generic" || known || !strings.Contains(why, "apu9") {
		t.Fatalf("got %s %v %q", p.Name, known, why)
	}
	if v := CmdlineValue("console=ttyS0 edgebox.board=apu3 quiet", "edgebox.board"); v != "apu3" {
		t.Fatalf("cmdline value %q", v)
	}
}

func TestProfilesComplete(t *testing.T) {
	for _, name := range []string{"apu1", "apu2", "apu3", "apu4", "apu6", "qemu"} {
		p, ok := Profiles[name]
		if !ok {
			t.Fatalf("no profile %s", name)
		}
		if p.Name != name || len(p.NICs) == 0 || len(p.Modules) == 0 || p.Console == "" || len(p.ModemSlots) == 0 {
			t.Errorf("profile %s incomplete: %+v", name, p)
		}
		if p.NICs[0].Role != "wan" && name != "qemu" {
			t.Errorf("%s: first NIC should be the WAN", name)
		}
	}
	for _, name := range []string{"apu2", "apu3", "apu4", "apu6"} {
		g := Profiles[name].GPIOs
		for _, l := range []string{"mpcie2_reset", "mpcie3_reset", "simswap"} {
			if g[l] == "" {
				t.Errorf("%s lacks GPIO %s", name, l)
			}
		}
	}
	if len(Profiles["apu4"].NICs) != 4 {
		t.Error("apu4 has four NICs")
	}
}

// fakeSys builds a sysfs tree like the kernel's: class/net/X/device is a
// symlink to the PCI device directory.
func fakeSys(t *testing.T, nics map[string]string, leds ...string) string {
	root := t.TempDir()
	for name, pci := range nics {
		dev := filepath.Join(root, "devices/pci0000:00/0000:00:02.2", pci)
		os.MkdirAll(dev, 0o755)
		os.MkdirAll(filepath.Join(root, "class/net", name), 0o755)
		if err := os.Symlink(dev, filepath.Join(root, "class/net", name, "device")); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "class/net/lo"), 0o755)
	for _, l := range leds {
		os.MkdirAll(filepath.Join(root, "class/leds", l), 0o755)
	}
	return root
}

func TestInterfacesByPCI(t *testing.T) {
	// The kernel probed the NICs out of order; roles still follow the PCI bus.
	root := fakeSys(t, map[string]string{"eth0": "0000:02:00.0", "eth1": "0000:01:00.0", "eth2": "0000:03:00.0"},
		"apu2:green:led1", "apu2:green:led2", "apu2:green:led3", "other:red:x")
	p := Profiles["apu2"]
	got := p.Interfaces(root)
	if got["wan"] != "eth1" || got["lan1"] != "eth0" || got["lan2"] != "eth2" {
		t.Fatalf("roles %v", got)
	}
	if p.FirstEthernet(root) != "eth1" {
		t.Fatalf("first ethernet %q", p.FirstEthernet(root))
	}
	if leds := p.LEDs(root); len(leds) != 3 {
		t.Fatalf("leds %v", leds)
	}
}

func TestAllModulesCoversBoards(t *testing.T) {
	all := strings.Join(AllModules(), " ")
	for _, m := range []string{"igb", "r8169", "i6300esb", "sp5100_tco", "cdc_ether", "option", "ext4", "ahci"} {
		if !strings.Contains(" "+all+" ", " "+m+" ") {
			t.Errorf("module %s missing from image set", m)
		}
	}
}
