package modem_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// usbAt adds a bare USB device at sysfs path devices/pci0000:00/CTRL/usbB/...
// and its bus/usb/devices link, as the kernel lays them out.
func (f *fakeSysfs) usbAt(ctrl, bus, name string) {
	parent := filepath.Join(f.root, "devices/pci0000:00", ctrl, "usb"+bus)
	// Each hop of the port chain is a directory: 2-1/2-1.3.
	_, chain, _ := strings.Cut(name, "-")
	hops := strings.Split(chain, ".")
	dir := parent
	for i := range hops {
		dir = filepath.Join(dir, bus+"-"+strings.Join(hops[:i+1], "."))
	}
	os.MkdirAll(dir, 0o755)
	os.MkdirAll(filepath.Join(f.root, "bus/usb/devices"), 0o755)
	f.link(filepath.Join(f.root, "bus/usb/devices", name), dir)
}

// apu2Slots are the apu2 family's map (boards.Profiles["apu2"]).
var apu2Slots = []modem.SlotUSB{
	{Name: "mPCIe 1", Place: modem.USBPlace{Controller: "0000:00:13.0", Ports: "1.3"}},
	{Name: "mPCIe 2", Place: modem.USBPlace{Controller: "0000:00:12.0", Ports: "1.3"}},
}

func TestSlotFromSysfsPath(t *testing.T) {
	f := newFakeSysfs(t)
	// The same port chain on two controllers, with bus numbers that do
	// not follow PCI order (xhci loaded first): only the controller tells
	// the slots apart.
	f.usbAt("0000:00:13.0", "3", "3-1.3")
	f.usbAt("0000:00:12.0", "4", "4-1.3")
	f.usbAt("0000:00:13.0", "3", "3-1.4")   // the other hub port
	f.usbAt("0000:00:10.0", "1", "1-2")     // xHCI front port: a USB stick modem
	f.usbAt("0000:00:13.0", "3", "3-1.3.2") // behind a hub in the slot
	for _, tc := range []struct {
		usb, slot, why string
	}{
		{"3-1.3", "mPCIe 1", ""},
		{"4-1.3", "mPCIe 2", ""},
		{"3-1.4", "", "USB port 1.4 of 0000:00:13.0, which is no mini-PCIe slot"},
		{"1-2", "", "USB port 2 of 0000:00:10.0, which is no mini-PCIe slot"},
		{"3-1.3.2", "", "USB port 1.3.2 of 0000:00:13.0"},
		{"5-1", "", "gone from sysfs"},
		{"", "", "not known"},
		{"../../etc", "", "not a USB device name"},
	} {
		place, err := modem.USBPlaceOf(f.root, tc.usb)
		var slot string
		if err == nil {
			slot, err = modem.SlotAt(place, apu2Slots)
		}
		if slot != tc.slot || (tc.why == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%q: slot %q err %v, want %q %q", tc.usb, slot, err, tc.slot, tc.why)
		}
	}
	place, _ := modem.USBPlaceOf(f.root, "3-1.3")
	if _, err := modem.SlotAt(place, []modem.SlotUSB{{Name: "mPCIe 1"}}); err == nil || !strings.Contains(err.Error(), "no USB map") {
		t.Errorf("board without map: %v", err)
	}
	// A map without a controller (QEMU) takes the port chain on any.
	anyCtrl := []modem.SlotUSB{{Name: "usb", Place: modem.USBPlace{Ports: "1.3"}}}
	for _, usb := range []string{"3-1.3", "4-1.3"} {
		place, _ := modem.USBPlaceOf(f.root, usb)
		if slot, err := modem.SlotAt(place, anyCtrl); slot != "usb" || err != nil {
			t.Errorf("%s on a controller-free map: %q %v", usb, slot, err)
		}
	}
	place, _ = modem.USBPlaceOf(f.root, "3-1.4")
	if slot, err := modem.SlotAt(place, anyCtrl); err == nil {
		t.Errorf("3-1.4 on a controller-free map for 1.3: %q", slot)
	}
}

// The USB path detection reports is the one the slot is read from.
func TestDetectedModemSlot(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.3", "12d1", "1573", huaweiIfs()) // below 0000:00:13.0/usb1/1-1
	os.MkdirAll(filepath.Join(f.root, "bus/usb/devices"), 0o755)
	f.link(filepath.Join(f.root, "bus/usb/devices/1-1.3"), filepath.Join(f.root, "devices/pci0000:00/0000:00:13.0/usb1/1-1/1-1.3"))
	_, pty := startSim(t, modemsim.Config{Profile: "huawei-mu609"})
	p := &ports{m: map[string]string{"/dev/ttyUSB2": pty}}
	devs, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, ProbeTimeout: 300 * time.Millisecond, OpenPort: p.open})
	if err != nil || len(devs) != 1 {
		t.Fatalf("detect: %v %v", devs, err)
	}
	place, err := modem.USBPlaceOf(f.root, devs[0].USBPath)
	if err != nil {
		t.Fatal(err)
	}
	if slot, err := modem.SlotAt(place, apu2Slots); slot != "mPCIe 1" || err != nil {
		t.Fatalf("slot %q %v (place %+v)", slot, err, place)
	}
}
