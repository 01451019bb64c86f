package netctl

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/boards"
	"edgebox/internal/config"
	"edgebox/modem"
)

// gpioPulses records the lines a reset drives instead of driving them.
type gpioPulses []string

func (g *gpioPulses) Pulse(line string, active bool, hold time.Duration) error {
	*g = append(*g, fmt.Sprintf("%s=%v", line, active))
	return nil
}

// fakeUSBTree makes a sysfs tree with USB devices at the given places
// ("0000:00:12.0 2-1.3") and points slotSysfs at it for the test.
func fakeUSBTree(t *testing.T, places ...string) {
	t.Helper()
	sys := t.TempDir()
	os.MkdirAll(filepath.Join(sys, "bus/usb/devices"), 0o755)
	for _, p := range places {
		ctrl, name, _ := strings.Cut(p, " ")
		bus, _, _ := strings.Cut(name, "-")
		dev := filepath.Join(sys, "devices/pci0000:00", ctrl, "usb"+bus, name)
		if err := os.MkdirAll(dev, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(dev, filepath.Join(sys, "bus/usb/devices", name)); err != nil {
			t.Fatal(err)
		}
	}
	old := slotSysfs
	slotSysfs = sys
	t.Cleanup(func() { slotSysfs = old })
}

// slotResetOf opens, through netctl's real modem opener, a modem found at
// usbPath on an apu2 whose GPIOs are gpio, and returns the slot reset the
// modem engine would run as the last step of its recovery.
func slotResetOf(t *testing.T, gpio boards.GPIO, cfgSlot, usbPath string, log *slog.Logger) func() error {
	t.Helper()
	board := boards.Profiles["apu2"]
	cfg := config.Default()
	cfg.Network.Modem.Slot = cfgSlot
	s, err := New(Options{Config: cfg, ModemStateDir: t.TempDir(), Log: log, ModemSlots: board.ModemSlots,
		SlotReset: func(slot string) func() error { return board.SlotReset(gpio, slot) }})
	if err != nil {
		t.Fatal(err)
	}
	r := s.opts.Modems.(realModems)
	r.detect = func(context.Context, modem.DetectOptions) ([]modem.Device, error) {
		return []modem.Device{{Port: "/dev/ttyUSB2", Profile: "quectel", USBPath: usbPath}}, nil
	}
	var opened modem.Options
	r.open = func(_ context.Context, o modem.Options) (ModemDriver, error) {
		opened = o
		return nil, nil
	}
	if _, err := r.Open(context.Background(), cfg.Network.Modem); err != nil {
		t.Fatal(err)
	}
	if opened.SlotReset == nil {
		t.Fatal("the modem was opened without a slot reset on a board with reset lines")
	}
	return opened.SlotReset
}

// The recovery's slot reset pulses the line of the slot the modem is in:
// the one network.modem.slot names, else the one at its USB place; when
// neither is known it pulses no line at all and says why in the log.
func TestModemSlotResetPulsesItsSlot(t *testing.T) {
	// apu2's (guessed) map: mPCIe 1 (mpcie2) at 0000:00:13.0 port 1.3,
	// mPCIe 2 (mpcie3) at 0000:00:12.0 port 1.3.
	fakeUSBTree(t, "0000:00:12.0 2-1.3", "0000:00:13.0 3-1.3", "0000:00:10.0 4-2")
	for _, tc := range []struct {
		name, cfgSlot, usb string
		want               string // lines pulsed
		log                []string
	}{
		{"modem in slot 2", "", "2-1.3", "[mpcie3_reset=false]", []string{`slot="mPCIe 2"`, "known_from=usb-guessed"}},
		{"modem in slot 1", "", "3-1.3", "[mpcie2_reset=false]", []string{`slot="mPCIe 1"`}},
		{"config names slot 1, USB says 2", "mpcie1", "2-1.3", "[mpcie2_reset=false]", []string{`slot="mPCIe 1"`, "known_from=config"}},
		{"config names slot 2", "mpcie2", "3-1.3", "[mpcie3_reset=false]", []string{`slot="mPCIe 2"`}},
		{"modem on an outside USB port", "", "4-2", "[]", []string{"no reset line pulsed", "the slot is unknown", "network.modem.slot"}},
		{"USB place not read", "", "", "[]", []string{"no reset line pulsed", "not known", "network.modem.slot"}},
	} {
		var logs bytes.Buffer
		var pulsed gpioPulses
		reset := slotResetOf(t, &pulsed, tc.cfgSlot, tc.usb, slog.New(slog.NewTextHandler(&logs, nil)))
		err := reset()
		if got := fmt.Sprint(pulsed); got != tc.want {
			t.Errorf("%s: pulsed %s, want %s", tc.name, got, tc.want)
		}
		if (tc.want == "[]") != (err != nil) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
		for _, w := range tc.log {
			if !strings.Contains(logs.String(), w) {
				t.Errorf("%s: log does not say %q:\n%s", tc.name, w, logs.String())
			}
		}
	}
}

// network.modem.slot set by a reload after the modem was opened is the
// slot the next reset pulses: the slot is decided when the reset runs.
func TestModemSlotResetFollowsReload(t *testing.T) {
	fakeUSBTree(t, "0000:00:10.0 4-2")
	var pulsed gpioPulses
	board := boards.Profiles["apu2"]
	s, err := New(Options{Config: config.Default(), ModemStateDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		ModemSlots: board.ModemSlots, SlotReset: func(slot string) func() error { return board.SlotReset(&pulsed, slot) }})
	if err != nil {
		t.Fatal(err)
	}
	reset := s.modemSlotReset(modem.Device{USBPath: "4-2"})
	if reset() == nil || len(pulsed) != 0 {
		t.Fatalf("unknown slot: pulsed %v", pulsed)
	}
	slot := "mpcie2"
	s.modemSlotCfg.Store(&slot) // what applyLocked does on a reload
	if err := reset(); err != nil || fmt.Sprint(pulsed) != "[mpcie3_reset=false]" {
		t.Fatalf("after the reload: pulsed %v, err %v", pulsed, err)
	}
}

// A board without reset lines (apu1) gives the modem no slot reset, so
// the engine skips that step instead of failing it.
func TestModemSlotResetNoneWithoutLines(t *testing.T) {
	board := boards.Profiles["apu1"]
	var pulsed gpioPulses
	s, err := New(Options{Config: config.Default(), ModemStateDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		ModemSlots: board.ModemSlots, SlotReset: func(slot string) func() error { return board.SlotReset(&pulsed, slot) }})
	if err != nil {
		t.Fatal(err)
	}
	if s.modemSlotReset(modem.Device{USBPath: "2-1.3"}) != nil {
		t.Fatal("a slot reset on a board without reset lines")
	}
}
