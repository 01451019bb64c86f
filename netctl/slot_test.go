package netctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/boards"
)

// The status names the slot from the config, else from the board's USB
// map (saying when that map is a guess), else "unknown" with the reason.
func TestModemSlotStatus(t *testing.T) {
	sys := t.TempDir()
	dev := filepath.Join(sys, "devices/pci0000:00/0000:00:12.0/usb2/2-1/2-1.3")
	os.MkdirAll(dev, 0o755)
	os.MkdirAll(filepath.Join(sys, "bus/usb/devices"), 0o755)
	if err := os.Symlink(dev, filepath.Join(sys, "bus/usb/devices/2-1.3")); err != nil {
		t.Fatal(err)
	}
	apu2, apu1 := boards.Profiles["apu2"].ModemSlots, boards.Profiles["apu1"].ModemSlots
	modemAt := &modemapi.Device{USBPath: "2-1.3"}
	for _, tc := range []struct {
		name    string
		dev     *modemapi.Device
		cfg     string
		slots   []boards.ModemSlot
		want    netapi.ModemSlot
		because string
	}{
		{"usb map", modemAt, "", apu2, netapi.ModemSlot{Name: "mPCIe 2", SIM: "J14", Source: netapi.SlotFromGuessedUSB, USB: "USB port 1.3 of 0000:00:12.0"}, ""},
		{"config wins", modemAt, "mpcie1", apu2, netapi.ModemSlot{Name: "mPCIe 1", SIM: "J13", Source: netapi.SlotFromConfig}, ""},
		{"config, slot not in profile", nil, "mpcie2", apu1, netapi.ModemSlot{Name: "mPCIe 2", Source: netapi.SlotFromConfig}, ""},
		{"board without map", modemAt, "", apu1, netapi.ModemSlot{Name: "unknown", USB: "USB port 1.3 of 0000:00:12.0"}, "no USB map"},
		{"configured port, no USB device", &modemapi.Device{}, "", apu2, netapi.ModemSlot{Name: "unknown"}, "not known"},
	} {
		got := slotOf(tc.dev, tc.cfg, tc.slots, sys)
		if got == nil {
			t.Errorf("%s: nil", tc.name)
			continue
		}
		reason := got.Reason
		got.Reason = ""
		if *got != tc.want || (tc.because == "") != (reason == "") || !strings.Contains(reason, tc.because) {
			t.Errorf("%s: %+v (reason %q), want %+v (%q)", tc.name, *got, reason, tc.want, tc.because)
		}
		if reason != "" && !strings.Contains(reason, "network.modem.slot") {
			t.Errorf("%s: reason %q does not say what to do", tc.name, reason)
		}
	}
	if s := slotOf(nil, "", apu2, sys); s != nil {
		t.Errorf("no modem: %+v", s)
	}
}
