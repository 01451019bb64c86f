package boards

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LEDs returns the sysfs directories of the board's front LEDs.
func (p Profile) LEDs(sysRoot string) []string {
	if p.LEDGlob == "" {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(sysRoot, "class/leds", p.LEDGlob))
	sort.Strings(m)
	return m
}

// Interfaces maps each NIC role to the kernel interface name found in sysfs.
// Roles whose port is absent are left out.
func (p Profile) Interfaces(sysRoot string) map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir(filepath.Join(sysRoot, "class/net"))
	byPCI := map[string]string{}
	names := map[string]bool{}
	usb := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
		dev, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "class/net", e.Name(), "device"))
		if err == nil {
			byPCI[filepath.Base(dev)] = e.Name()
			usb[e.Name()] = onUSB(dev)
		}
	}
	for _, n := range p.NICs {
		switch {
		case n.PCI != "" && byPCI[n.PCI] != "":
			out[n.Role] = byPCI[n.PCI]
		case n.Name != "" && names[n.Name] && (n.Role == "modem" || !usb[n.Name]):
			// A wired role found by name is never a USB device: the
			// kernel names a USB network device (a modem's CDC
			// Ethernet) ethN too, and it would take the LAN's name
			// and its trust. Fifth review.
			out[n.Role] = n.Name
		}
	}
	return out
}

// onUSB says whether a resolved sysfs device path lies below a USB root
// hub (a path element usbN).
func onUSB(dev string) bool {
	for _, el := range strings.Split(filepath.ToSlash(dev), "/") {
		if n, ok := strings.CutPrefix(el, "usb"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			return true
		}
	}
	return false
}

// FirstEthernet returns the first wired interface, for the default hostname:
// the board's first NIC role if present, else the lowest ethN/enpN name.
func (p Profile) FirstEthernet(sysRoot string) string {
	ifs := p.Interfaces(sysRoot)
	for _, n := range p.NICs {
		if name := ifs[n.Role]; name != "" {
			return name
		}
	}
	ents, _ := os.ReadDir(filepath.Join(sysRoot, "class/net"))
	var cands []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "eth") || strings.HasPrefix(e.Name(), "en") {
			cands = append(cands, e.Name())
		}
	}
	sort.Strings(cands)
	if len(cands) > 0 {
		return cands[0]
	}
	return ""
}
