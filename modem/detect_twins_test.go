package modem_test

import (
	"context"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// TestDetectTwoCardsSameUSBID: two ME909u cards (12d1:1573) in the two
// mini-PCIe slots. Each is found once, with its own AT port and its own
// network interface, told apart by USB path (the IDs are the same); the
// AT port of one is never given the other's interface.
func TestDetectTwoCardsSameUSBID(t *testing.T) {
	f := newFakeSysfs(t)
	f.usbDevice("1-1.3", "12d1", "1573", huaweiIfs())
	f.usbDevice("1-1.4", "12d1", "1573", []usbIf{{0, "option", "ttyUSB3", ""}, {1, "option", "ttyUSB4", ""}, {2, "option", "ttyUSB5", ""}, {6, "cdc_ether", "", "usb1"}})
	_, ptyA := startSim(t, modemsim.Config{Profile: "huawei-me909u", IMEI: "867223020000001"})
	_, ptyB := startSim(t, modemsim.Config{Profile: "huawei-me909u", IMEI: "867223020000002"})
	p := &ports{m: map[string]string{"/dev/ttyUSB2": ptyA, "/dev/ttyUSB5": ptyB}}
	devs, err := modem.Detect(context.Background(), modem.DetectOptions{SysfsRoot: f.root, ProbeTimeout: 300 * time.Millisecond, OpenPort: p.open})
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("%d devices, want 2: %+v", len(devs), devs)
	}
	want := map[string]struct{ port, net string }{"1-1.3": {"/dev/ttyUSB2", "usb0"}, "1-1.4": {"/dev/ttyUSB5", "usb1"}}
	for _, d := range devs {
		w, ok := want[d.USBPath]
		if !ok || d.Port != w.port || d.NetIface != w.net {
			t.Errorf("device %s: port %s net %s, want %+v", d.USBPath, d.Port, d.NetIface, w)
		}
		delete(want, d.USBPath)
	}
	if len(want) != 0 {
		t.Errorf("not found: %v", want)
	}
}
