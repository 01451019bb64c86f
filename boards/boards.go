// Package boards describes the hardware edgebox runs on: which NIC plays
// which role, where the LEDs and GPIO lines are, which kernel modules the
// board needs and which mini-PCIe slots can carry a modem. The running board
// is detected from DMI and can be forced with edgebox.board= on the kernel
// command line.
package boards

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// NIC binds a network role (wan, lan1, ...) to a port of the board. Ports are
// matched by PCI address, which stays stable while kernel names (eth0...)
// depend on probe order; Name is used where there is no PCI address (QEMU).
type NIC struct {
	Role string `json:"role"`
	PCI  string `json:"pci,omitempty"`  // e.g. 0000:01:00.0
	Name string `json:"name,omitempty"` // fallback kernel name, e.g. eth0
}

// ModemSlot is a mini-PCIe socket that can carry a USB modem and a SIM.
type ModemSlot struct {
	Name      string `json:"name"`                 // mpcie2
	ResetGPIO string `json:"reset_gpio,omitempty"` // GPIO line name that resets the card
	SIM       string `json:"sim,omitempty"`        // where its SIM sits
	// Label is the slot as installers see it (UI, network.modem.slot
	// "mpcie1" is Label "mPCIe 1").
	Label string `json:"label,omitempty"`
	// USBController and USBPorts say where a card in this slot shows up on
	// USB: the PCI address of the host controller and the port chain below
	// its root hub ("1.3": root port 1, hub port 3). Bus numbers (the "2"
	// of sysfs's 2-1.3) depend on the order the controllers' drivers load,
	// so they are not part of the map. No ports: not known for this board;
	// ports without a controller: that chain on any controller.
	USBController string `json:"usb_controller,omitempty"`
	USBPorts      string `json:"usb_ports,omitempty"`
	// USBGuessed marks a map not confirmed on a real board: the UI says
	// so and network.modem.slot overrides it.
	USBGuessed bool `json:"usb_guessed,omitempty"`
}

// Profile is everything edgebox needs to know about one board.
type Profile struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	NICs        []NIC  `json:"nics"`
	// LEDGlob finds the front LEDs in sysfs; the kernel driver names them.
	LEDGlob string `json:"led_glob,omitempty"`
	// GPIOs maps edgebox's names to the GPIO line names the kernel exports.
	GPIOs      map[string]string `json:"gpios,omitempty"`
	Modules    []string          `json:"modules"`
	Console    string            `json:"console"`
	ModemSlots []ModemSlot       `json:"modem_slots,omitempty"`
	// Watchdog names the driver behind /dev/watchdog on this board.
	Watchdog string `json:"watchdog,omitempty"`
}

// Modules every board needs: disks, filesystems, USB modems and their nets.
var commonModules = []string{
	"button", "evdev", // the ACPI power button asks init for a clean power-off
	"ahci", "sd_mod", "ext4", "vfat", "nls_cp437", "nls_iso8859_1", "crc32c_generic",
	"xhci_pci", "ehci_pci", "ohci_pci", "usb_storage",
	"usbserial", "option", "ftdi_sio", "cdc_acm", "cdc_wdm", "cdc_ether", "rndis_host",
	"qmi_wwan", "sierra", "ppp_async", "ppp_deflate", "tun",
	"nf_tables", "nft_ct", "nft_nat", "nft_masq", "nft_chain_nat", "nft_reject_inet", "nft_fib_inet",
}

var apu2Family = []string{"igb", "sp5100_tco", "gpio_amd_fch", "pcengines_apuv2", "leds_gpio",
	"gpio_keys_polled", "sdhci_pci", "mmc_block", "k10temp"}

var apu2GPIOs = map[string]string{
	"mpcie2_reset": "mpcie2_reset",
	"mpcie3_reset": "mpcie3_reset",
	"simswap":      "simswap",
	"button":       "front-button",
}

func apuNICs(n int) []NIC {
	nics := []NIC{{Role: "wan", PCI: "0000:01:00.0"}}
	for i := 1; i < n; i++ {
		nics = append(nics, NIC{Role: fmt.Sprintf("lan%d", i), PCI: fmt.Sprintf("0000:%02x:00.0", i+1)})
	}
	return nics
}

func join(a ...[]string) []string {
	var out []string
	for _, s := range a {
		out = append(out, s...)
	}
	return out
}

// apu2Board is the apu2 family (apu2..apu6): same FCH GPIOs, LEDs,
// watchdog and two modem slots; they differ in NIC count and SIM wiring.
func apu2Board(name, desc string, nics int, sim2 string) Profile {
	return Profile{
		Name: name, Description: desc,
		NICs: apuNICs(nics), LEDGlob: "apu*:green:*", GPIOs: apu2GPIOs,
		Modules: join(commonModules, apu2Family), Console: "ttyS0,115200n8",
		ModemSlots: []ModemSlot{
			// USB map guessed: the FCH has two EHCI controllers (00:12.0,
			// 00:13.0), each with a 4-port hub (0438:7900) on root port 1;
			// an apu3c2 with an MC7455 showed it at hub port 3 of the second
			// one (a public lsusb -t, slot not stated). The other slot on the
			// first controller's hub port 3 is a guess by symmetry.
			{Name: "mpcie2", Label: "mPCIe 1", ResetGPIO: "mpcie2_reset", SIM: sim2,
				USBController: "0000:00:13.0", USBPorts: "1.3", USBGuessed: true},
			{Name: "mpcie3", Label: "mPCIe 2", ResetGPIO: "mpcie3_reset", SIM: "J14",
				USBController: "0000:00:12.0", USBPorts: "1.3", USBGuessed: true},
		},
		Watchdog: "sp5100_tco",
	}
}

// Profiles lists every board edgebox knows, by name.
var Profiles = map[string]Profile{
	"apu1": {
		Name: "apu1", Description: "PC Engines apu1 (AMD G-T40E, 3x Realtek RTL8111E)",
		NICs:    apuNICs(3),
		LEDGlob: "apu*:green:*",
		Modules: join(commonModules, []string{"r8169", "sp5100_tco", "sdhci_pci", "mmc_block", "k10temp"}),
		Console: "ttyS0,115200n8",
		ModemSlots: []ModemSlot{
			// No USB map: nothing known of the apu1's USB wiring.
			{Name: "mpcie1", Label: "mPCIe 1", SIM: "J12"},
		},
		Watchdog: "sp5100_tco",
	},
	"apu2": apu2Board("apu2", "PC Engines apu2 (AMD GX-412TC, 3x Intel i210/i211)", 3, "J13"),
	"apu3": apu2Board("apu3", "PC Engines apu3 (LTE-optimised: SIM swap via mSATA slot)", 3, "J13 / mSATA (simswap)"),
	"apu4": apu2Board("apu4", "PC Engines apu4 (4x Intel i211, LTE-optimised)", 4, "J13 / mSATA (simswap)"),
	"apu6": apu2Board("apu6", "PC Engines apu6 (1x SFP i210 + 3x i211)", 4, "J13 / mSATA (simswap)"),
	"qemu": {
		Name: "qemu", Description: "QEMU q35 test machine (e1000e LAN, usb-serial modem, usb-net LTE)",
		// The first NIC carries the hostfwd for the web UI, so it is the LAN.
		// QEMU's usb-serial and usb-net are two USB devices, so the modem's
		// data port cannot be found through the AT port's device: name it.
		NICs:    []NIC{{Role: "lan1", Name: "eth0"}, {Role: "wan", Name: "eth1"}, {Role: "modem", Name: "usb0"}},
		Modules: join(commonModules, []string{"e1000e", "virtio_net", "virtio_pci", "i6300esb", "qemu_fw_cfg", "usbnet"}),
		Console: "ttyS0,115200n8",
		ModemSlots: []ModemSlot{
			// The image's QEMU puts usb-serial first on its qemu-xhci
			// (image/qemu.go), so on root port 1; the controller's PCI
			// address moves with the other devices, so it is left out.
			// Not yet read back from a booted image: guessed.
			{Name: "usb", Label: "USB (QEMU)", SIM: "simulated", USBPorts: "1", USBGuessed: true},
		},
		Watchdog: "i6300esb",
	},
}

// Generic is used on a board edgebox does not know: every module it might
// need, no GPIOs, NIC roles by kernel name.
var Generic = Profile{
	Name: "generic", Description: "unknown board: generic x86-64 profile",
	NICs:    []NIC{{Role: "wan", Name: "eth0"}, {Role: "lan1", Name: "eth1"}},
	Modules: join(commonModules, []string{"igb", "e1000e", "r8169", "sp5100_tco", "i6300esb", "sdhci_pci", "mmc_block", "virtio_net", "virtio_pci", "usbnet"}),
	Console: "ttyS0,115200n8",
}

// AllModules is the union of every profile's modules, for the image builder.
func AllModules() []string {
	set := map[string]bool{}
	for _, p := range Profiles {
		for _, m := range p.Modules {
			set[m] = true
		}
	}
	for _, m := range Generic.Modules {
		set[m] = true
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// DMI is what the firmware tells about the machine.
type DMI struct {
	BoardName   string
	ProductName string
	SysVendor   string
}

// ReadDMI reads DMI strings below sysfs root (normally "/sys").
func ReadDMI(sysRoot string) DMI {
	read := func(f string) string {
		b, _ := os.ReadFile(filepath.Join(sysRoot, "class/dmi/id", f))
		return strings.TrimSpace(string(b))
	}
	return DMI{BoardName: read("board_name"), ProductName: read("product_name"), SysVendor: read("sys_vendor")}
}

// Detect picks the board profile. A name from the kernel command line wins;
// then DMI. known is false when the generic profile was chosen, and why says
// how the choice was made, for the boot log.
func Detect(dmi DMI, cmdlineBoard string) (p Profile, known bool, why string) {
	if cmdlineBoard != "" {
		if p, ok := Profiles[cmdlineBoard]; ok {
			return p, true, "edgebox.board=" + cmdlineBoard + " on the kernel command line"
		}
		return Generic, false, fmt.Sprintf("edgebox.board=%q is not a known board; using the generic profile", cmdlineBoard)
	}
	for _, s := range []string{dmi.BoardName, dmi.ProductName} {
		if name := apuName(s); name != "" {
			return Profiles[name], true, fmt.Sprintf("DMI says %q", s)
		}
	}
	if strings.Contains(dmi.SysVendor, "QEMU") || strings.Contains(dmi.ProductName, "QEMU") ||
		strings.HasPrefix(dmi.ProductName, "Standard PC") {
		return Profiles["qemu"], true, fmt.Sprintf("DMI says %q %q", dmi.SysVendor, dmi.ProductName)
	}
	return Generic, false, fmt.Sprintf("unknown board (DMI vendor %q board %q product %q); using the generic profile",
		dmi.SysVendor, dmi.BoardName, dmi.ProductName)
}

// apuName maps the DMI strings PC Engines' coreboot builds have used
// ("apu2", "APU2", "PC Engines apu2", "apu1", "APU") to a profile name.
func apuName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "pc engines ")
	s = strings.TrimSpace(s)
	switch s {
	case "apu", "apu1", "apu1c", "apu1d":
		return "apu1"
	}
	for _, n := range []string{"apu2", "apu3", "apu4", "apu6"} {
		// Revision letters follow the name: apu2c, apu4d.
		if s == n || strings.HasPrefix(s, n) && len(s) == len(n)+1 && s[len(n)] >= 'a' && s[len(n)] <= 'z' {
			return n
		}
	}
	return ""
}

// CmdlineValue returns the value of key=value on a kernel command line.
func CmdlineValue(cmdline, key string) string {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}
