package modem

import (
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Which mini-PCIe slot holds the modem is not something the modem can
// say: it is where its USB device hangs. The board profile maps slots to
// USB places (host controller + port chain); this file reads the place of
// the detected device from sysfs and looks it up.

// USBPlace is where a USB device hangs: the PCI address of its host
// controller and the port chain below the controller's root hub ("1.3":
// root port 1, then port 3 of the hub there). The bus number of the sysfs
// name (the 2 of "2-1.3") is not part of it: it follows driver load order.
type USBPlace struct {
	Controller string // "0000:00:13.0"; "" when the controller is not on PCI
	Ports      string // "1.3"
}

func (p USBPlace) String() string {
	c := p.Controller
	if c == "" {
		c = "a non-PCI controller"
	}
	return "USB port " + p.Ports + " of " + c
}

// SlotUSB is one slot of the board and its USB place. A Place without a
// Controller matches that port chain on any controller (QEMU, whose
// controller's PCI address moves with the other devices).
type SlotUSB struct {
	Name  string
	Place USBPlace
}

var (
	pciAddr  = lazyregexp.New(`^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
	rootHub  = lazyregexp.New(`^usb[0-9]+$`)
	usbDevRE = lazyregexp.New(`^[0-9]+-[0-9]+(\.[0-9]+)*$`)
)

// USBPlaceOf reads the place of the USB device usbPath (its sysfs name,
// Device.USBPath, "2-1.3") from sysfs below root (normally "/sys").
func USBPlaceOf(sysfs, usbPath string) (USBPlace, error) {
	if usbPath == "" {
		return USBPlace{}, errors.New("the modem's USB device is not known (it was not found through sysfs)")
	}
	if !usbDevRE.MatchString(usbPath) {
		return USBPlace{}, fmt.Errorf("%q is not a USB device name like 1-1.3", usbPath)
	}
	dev, err := filepath.EvalSymlinks(filepath.Join(sysfs, "bus", "usb", "devices", usbPath))
	if err != nil {
		return USBPlace{}, fmt.Errorf("USB device %s is gone from sysfs: %w", usbPath, err)
	}
	_, ports, _ := strings.Cut(usbPath, "-")
	place := USBPlace{Ports: ports}
	parts := strings.Split(filepath.ToSlash(dev), "/")
	for i := len(parts) - 1; i > 0; i-- {
		if rootHub.MatchString(parts[i]) {
			if pciAddr.MatchString(parts[i-1]) {
				place.Controller = parts[i-1]
			}
			return place, nil
		}
	}
	return USBPlace{}, fmt.Errorf("USB device %s: no root hub in its sysfs path %s", usbPath, dev)
}

// SlotAt names the slot at place, or says why none is.
func SlotAt(place USBPlace, slots []SlotUSB) (string, error) {
	mapped := 0
	for _, s := range slots {
		if s.Place.Ports == "" {
			continue
		}
		mapped++
		if s.Place.Ports == place.Ports && (s.Place.Controller == "" || s.Place.Controller == place.Controller) {
			return s.Name, nil
		}
	}
	if mapped == 0 {
		return "", errors.New("the board profile has no USB map of its mini-PCIe slots")
	}
	return "", fmt.Errorf("the modem is on %s, which is no mini-PCIe slot of this board (a USB modem on an outside port, or a board whose USB map is wrong)", place)
}
