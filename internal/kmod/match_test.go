package kmod

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"edgebox/boards"
)

func TestGlobIsFnmatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00", true},
		{"pci:v00008086d000010D3sv*sd*bc*sc*i*", "pci:v00008086d000010D4sv00008086sd00000000bc02sc00i00", false},
		{"usb:v*p*d*dc*dsc*dp*ic02isc06ip00in*", "usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00", true},
		{"usb:v*p*d*dc*dsc*dp*ic02isc06ip00in*", "usb:v0525pA4A2d0000dc02dsc00dp00ic0Aisc00ip00in01", false},
		// Version ranges in USB aliases are sets.
		{"usb:v0403p6001d0[4-5]*dc*", "usb:v0403p6001d0400dc00", true},
		{"usb:v0403p6001d0[4-5]*dc*", "usb:v0403p6001d0600dc00", false},
		{"usb:v0403p6001d0[!4-5]*dc*", "usb:v0403p6001d0600dc00", true},
		{"acpi*:LNXPWRBN:*", "acpi:LNXPWRBN:", true},
		{"dmi*:svn*PCEngines*:rn*apu2*:", "dmi:bvncoreboot:bvrv4.19.0.1:bd01/30/2023:br4.19:svnPCEngines:pnapu2:pvr1.0:rvnPCEngines:rnapu2:rvr1.0:cvnPCEngines:ct3:cvr:sku:", true},
		{"dmi*:svn*PCEngines*:rn*apu2*:", "dmi:bvnSeaBIOS:svnQEMU:pnStandardPC(Q35+ICH9,2009):rvnQEMU:rnq35:", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a\\*c", "a*c", true},
		{"a\\*c", "abc", false},
		{"*", "", true},
		{"a*", "", false},
		{"[", "[", true},
	} {
		if got := glob(c.pattern, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func gunzip(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shippedModuleDir writes what the image builder ships (image/modules.go):
// the boards' modules and their dependencies, with modules.dep and the
// modules.alias lines of exactly those, from Debian's real files.
func shippedModuleDir(t *testing.T) string {
	t.Helper()
	deps, err := ParseDeps(strings.NewReader(gunzip(t, "modules.dep")))
	if err != nil {
		t.Fatal(err)
	}
	deps.ParseBuiltin(strings.NewReader(gunzip(t, "modules.builtin")))
	files, _, err := deps.Resolve(boards.AllModules())
	if err != nil {
		t.Fatal(err)
	}
	shipped := map[string]bool{}
	for _, f := range files {
		shipped[Name(f)] = true
	}
	all, err := ParseAliases(strings.NewReader(gunzip(t, "modules.alias")))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var dep strings.Builder
	for _, l := range strings.Split(gunzip(t, "modules.dep"), "\n") {
		if mod, _, ok := strings.Cut(l, ":"); ok && shipped[Name(mod)] {
			dep.WriteString(l + "\n")
		}
	}
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte(gunzip(t, "modules.builtin")), 0o644)
	soft, _ := os.ReadFile(filepath.Join("testdata", "modules.softdep"))
	os.WriteFile(filepath.Join(dir, "modules.softdep"), soft, 0o644)
	out, _ := os.Create(filepath.Join(dir, "modules.alias"))
	all.Filter(func(m string) bool { return shipped[m] }).WriteTo(out)
	out.Close()
	return dir
}

// fakeSysfs lays out devices the way the kernel does: a modalias file in
// each device's folder, attribute folders beside it, and symlinks (driver,
// subsystem) that point back up the tree and must not be followed.
func fakeSysfs(t *testing.T, devices map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for path, alias := range devices {
		dir := filepath.Join(root, "devices", path)
		if err := os.MkdirAll(filepath.Join(dir, "power"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "modalias"), []byte(alias+"\n"), 0o444)
		os.WriteFile(filepath.Join(dir, "power", "control"), []byte("auto\n"), 0o644)
		os.Symlink(filepath.Join(root, "devices"), filepath.Join(dir, "subsystem"))
	}
	return root
}

// The QEMU machine of the image tests (image/qemu.go): q35, an e1000e LAN,
// the i6300esb watchdog, qemu-xhci with the FTDI usb-serial modem and the
// CDC usb-net data port, the disk on ICH9 AHCI. Modaliases as the kernel
// writes them.
var qemuDevices = map[string]string{
	"pci0000:00/0000:00:00.0":                                "pci:v00008086d000029C0sv00001AF4sd00001100bc06sc00i00",
	"pci0000:00/0000:00:01.0":                                "pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00",
	"pci0000:00/0000:00:02.0":                                "pci:v00008086d000010D3sv00008086sd00000000bc02sc00i00",
	"pci0000:00/0000:00:03.0":                                "pci:v00008086d000025ABsv00001AF4sd00001100bc08sc80i00",
	"pci0000:00/0000:00:04.0":                                "pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30",
	"pci0000:00/0000:00:1f.0":                                "pci:v00008086d00002918sv00001AF4sd00001100bc06sc01i00",
	"pci0000:00/0000:00:1f.2":                                "pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01",
	"pci0000:00/0000:00:1f.3":                                "pci:v00008086d00002930sv00001AF4sd00001100bc0Csc05i00",
	"pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0":               "usb:v0403p6001d0400dc00dsc00dp00icFFiscFFipFFin00",
	"pci0000:00/0000:00:04.0/usb1/1-2/1-2:1.0":               "usb:v0525pA4A2d0000dc02dsc00dp00ic02isc06ip00in00",
	"pci0000:00/0000:00:04.0/usb1/1-2/1-2:1.1":               "usb:v0525pA4A2d0000dc02dsc00dp00ic0Aisc00ip00in01",
	"pci0000:00/0000:00:04.0/usb1/1-0:1.0":                   "usb:v1D6Bp0002d0601dc09dsc00dp01ic09isc00ip00in00",
	"pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0": "scsi:t-0x00",
	"LNXSYSTM:00/LNXPWRBN:00":                                "acpi:LNXPWRBN:",
	"LNXSYSTM:00/LNXSYBUS:00/QEMU0002:00":                    "acpi:QEMU0002:",
	"LNXSYSTM:00/LNXPWRBN:00/input/input0":                   "input:b0019v0000p0001e0000-e0,1,k74,ramlsfw",
	"platform/serial8250":                                    "platform:serial8250",
	"platform/i8042/serio0":                                  "serio:ty06pr00id00ex00",
	"virtual/dmi/id":                                         "dmi:bvnSeaBIOS:bvr1.16.2-debian-1.16.2-1:bd04/01/2014:br0.0:svnQEMU:pnStandardPC(Q35+ICH9,2009):pvrpc-q35-7.2:cvnQEMU:ct1:cvrpc-q35-7.2:sku:",
	"system/cpu/cpu0":                                        "cpu:type:x86,ven0002fam0017mod0031:feature:,0000,0001,0002,0003,0004,0005,0006,0007,0008,0009,000B,000C,000D,000E,000F,0010,0011,0013,0017,0018,0019,001A,001B,001C,002B,0034,003A,003B,003D,0068,006F,0070,0072,0074,0075,0076,0079,0080,0081,0083,0089,008C,008D,0091,0093,0094,0095,0096,0097,0098,0099,009A,009B,009C,009D,009E,009F,00C0,00C5,00E1,00E3,00E4,00E6,00E7,00EB,00EC,00F0,00F1,00F3,00F5,00F6,00F9,00FA,00FB,00FD,00FF,0100,0101,0102,0103,0120,0123,0125,0127,0128,0129,012A,012D,0140,0160,0161,0162,0163,0164,0165,0171,01C0,01C1,01C2,01C4,01C5,01C6,0203,0204,020B,024A,025A,025B,025C,025D,025F",
}

// An apu2: three i210/i211 NICs, the AMD FCH (SMBus with the TCO
// watchdog, AHCI, EHCI, xHCI, SD host), the family 16h northbridge for
// k10temp, and coreboot's DMI naming the board.
var apu2Devices = map[string]string{
	"pci0000:00/0000:00:02.2/0000:01:00.0": "pci:v00008086d00001533sv00008086sd00000000bc02sc00i00",
	"pci0000:00/0000:00:02.3/0000:02:00.0": "pci:v00008086d00001539sv00008086sd00000000bc02sc00i00",
	"pci0000:00/0000:00:02.4/0000:03:00.0": "pci:v00008086d00001539sv00008086sd00000000bc02sc00i00",
	"pci0000:00/0000:00:10.0":              "pci:v00001022d00007814sv00001022sd00007814bc0Csc03i30",
	"pci0000:00/0000:00:11.0":              "pci:v00001022d00007801sv00001022sd00007801bc01sc06i01",
	"pci0000:00/0000:00:13.0":              "pci:v00001022d00007808sv00001022sd00007808bc0Csc03i20",
	"pci0000:00/0000:00:14.0":              "pci:v00001022d0000780Bsv00001022sd0000780Bbc0Csc05i00",
	"pci0000:00/0000:00:14.7":              "pci:v00001022d00007806sv00001022sd00007806bc08sc05i01",
	"pci0000:00/0000:00:18.3":              "pci:v00001022d00001583sv00000000sd00000000bc06sc00i00",
	"LNXSYSTM:00/LNXPWRBN:00":              "acpi:LNXPWRBN:",
	"virtual/dmi/id":                       "dmi:bvncoreboot:bvrv4.19.0.1:bd01/30/2023:br4.19:svnPCEngines:pnapu2:pvr1.0:rvnPCEngines:rnapu2:rvr1.0:cvnPCEngines:ct3:cvr:sku:",
}

// explicitModules are the boards' modules that no device asks for: every
// board loads them.
var explicitModules = []string{"crc32c_generic", "ext4", "nf_tables", "nft_chain_nat", "nft_ct", "nft_fib_inet", "nft_masq",
	"nft_nat", "nft_reject_inet", "nls_cp437", "nls_iso8859_1", "ppp_async", "ppp_deflate", "tun", "usbserial", "vfat"}

func TestBootModulesMatchPresentHardware(t *testing.T) {
	l, err := Open(shippedModuleDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		board   string
		devices map[string]string
		drivers []string
	}{
		// usbcore carries the hub driver that binds the root hub.
		{"qemu", qemuDevices, []string{"ahci", "button", "cdc_ether", "e1000e", "evdev", "ftdi_sio", "i6300esb", "qemu_fw_cfg", "sd_mod", "usbcore", "xhci_pci"}},
		{"apu2", apu2Devices, []string{"ahci", "button", "ehci_pci", "igb", "k10temp", "pcengines_apuv2", "sdhci_pci", "sp5100_tco", "xhci_pci"}},
	} {
		t.Run(c.board, func(t *testing.T) {
			sys := fakeSysfs(t, c.devices)
			aliases := Modaliases(sys)
			var unique []string
			for _, a := range c.devices {
				unique = append(unique, a)
			}
			if !reflect.DeepEqual(aliases, sortedSet(unique)) {
				t.Errorf("modaliases in the fake sysfs\n got %q\nwant %q", aliases, sortedSet(unique))
			}
			got := l.BootModules(aliases, boards.Profiles[c.board].Modules)
			want := append(append([]string{}, c.drivers...), explicitModules...)
			if c.board == "qemu" {
				want = append(want, "usbnet")
			}
			if !reflect.DeepEqual(sortedSet(got), sortedSet(want)) {
				t.Errorf("boot modules\n got %q\nwant %q", got, sortedSet(want))
			}
			// The other boards' drivers stay out.
			for _, absent := range []string{"r8169", "virtio_net", "virtio_pci", "usb_storage", "option", "qmi_wwan", "ohci_pci"} {
				for _, m := range got {
					if m == absent {
						t.Errorf("%s loaded without its hardware", absent)
					}
				}
			}
		})
	}
}

func sortedSet(s []string) []string {
	set := map[string]bool{}
	for _, m := range s {
		set[m] = true
	}
	return sortedKeys(set)
}

// Against Debian's whole modules.alias, each QEMU device picks its own
// driver and only that: the patterns are read as modprobe reads them.
func TestMatchAgainstDebianAliases(t *testing.T) {
	all, err := ParseAliases(strings.NewReader(gunzip(t, "modules.alias")))
	if err != nil {
		t.Fatal(err)
	}
	for alias, want := range map[string][]string{
		qemuDevices["pci0000:00/0000:00:02.0"]:                  {"e1000e"},
		qemuDevices["pci0000:00/0000:00:03.0"]:                  {"i6300esb"},
		qemuDevices["pci0000:00/0000:00:04.0"]:                  {"xhci_pci"},
		qemuDevices["pci0000:00/0000:00:1f.2"]:                  {"ahci"},
		qemuDevices["pci0000:00/0000:00:04.0/usb1/1-1/1-1:1.0"]: {"ftdi_sio"},
		qemuDevices["pci0000:00/0000:00:04.0/usb1/1-2/1-2:1.0"]: {"cdc_ether", "cdc_subset"},
		apu2Devices["pci0000:00/0000:00:02.3/0000:02:00.0"]:     {"igb"},
		apu2Devices["pci0000:00/0000:00:14.0"]:                  {"i2c_piix4", "sp5100_tco"},
		// gsmi matches every coreboot BIOS; the image does not ship it.
		apu2Devices["virtual/dmi/id"]:                       {"gsmi", "pcengines_apuv2"},
		"usb:v12D1p1506d0102dc00dsc00dp00icFFisc02ip12in00": {"option"},
		// option's alias covers the whole EC25; it refuses interface 4
		// (QMI) in its probe, as on a desktop with udev.
		"usb:v2C7Cp0125d0318dcEFdsc02dp01icFFiscFFipFFin04": {"option", "qmi_wwan"},
		"scsi:t-0x00":              {"sd_mod"},
		"platform:pcengines-apuv2": {"pcengines_apuv2"},
		"acpi:LNXPWRBN:":           {"button"},
		"usb:v0000p0000d0000dc00dsc00dp00ic00isc00ip00in00-none": nil,
	} {
		got := all.Match(alias)
		if !reflect.DeepEqual(sortedSet(got), sortedSet(want)) {
			t.Errorf("Match(%s) = %q, want %q", alias, got, want)
		}
	}
}

// libcrc32c (under nf_tables) and ext4 look up the crc32c algorithm when
// they load; modules.softdep says so, and crc32c_generic must be in before
// them. Loaded in parallel without that, nftables failed to load at boot.
func TestSoftdepOrdersCrc32cFirst(t *testing.T) {
	l, err := Open(shippedModuleDir(t))
	if err != nil {
		t.Fatal(err)
	}
	files, _, err := l.deps.Resolve([]string{"nf_tables", "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	level := map[string]int{}
	for i, lv := range l.deps.Levels(files) {
		for _, f := range lv {
			level[Name(f)] = i
		}
	}
	gen, ok := level["crc32c_generic"]
	if !ok {
		t.Fatalf("crc32c_generic not loaded with nf_tables and ext4: %v", level)
	}
	for _, m := range []string{"libcrc32c", "ext4", "jbd2", "nf_tables"} {
		if level[m] <= gen {
			t.Errorf("%s (level %d) not after crc32c_generic (level %d)", m, level[m], gen)
		}
	}
}
