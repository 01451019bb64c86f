package netctl

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/internal/config"
	"edgebox/modem"
)

// TestModemReenumeratedPortFound: the configured port (ttyUSB2) is gone
// because the card came back from a USB reset as ttyUSB3. netctl finds it
// by USB detection instead of waiting for someone to edit the config; with
// two cards of the profile, or voice modems that may own the other ports,
// it says what it found instead of guessing.
func TestModemReenumeratedPortFound(t *testing.T) {
	var opened []modem.Device
	found := []modem.Device{{Port: "/dev/ttyUSB3", Profile: "huawei-me909s", NetIface: "usb0"}}
	r := realModems{stateDir: filepath.Join(t.TempDir(), "state"),
		detect: func(ctx context.Context, o modem.DetectOptions) ([]modem.Device, error) {
			if o.Port != "" {
				t.Errorf("detection asked for the port that is gone: %q", o.Port)
			}
			return found, nil
		},
		open: func(ctx context.Context, o modem.Options) (ModemDriver, error) {
			opened = append(opened, o.Device)
			return nil, errors.New("not opened in this test")
		}}
	cfg := config.Modem{Enabled: true, Port: "/dev/ttyNoSuchUSB2", Profile: "huawei-me909s", Interface: "lte0"}
	r.Open(context.Background(), cfg)
	if len(opened) != 1 || opened[0].Port != "/dev/ttyUSB3" || opened[0].NetIface != "lte0" {
		t.Fatalf("opened %+v, want the card on /dev/ttyUSB3 with interface lte0", opened)
	}

	// Two cards of the profile: none is guessed.
	opened = nil
	found = append(found, modem.Device{Port: "/dev/ttyUSB7", Profile: "huawei-me909s"})
	_, err := r.Open(context.Background(), cfg)
	if !errors.Is(err, modem.ErrNoModem) || !strings.Contains(err.Error(), "/dev/ttyUSB7") || len(opened) != 0 {
		t.Errorf("two cards: err %v, opened %+v", err, opened)
	}

	// Voice modems configured: no other port is probed.
	found = found[:1]
	cfg.VoiceModems = []config.VoiceModem{{Slot: "mpcie2"}}
	_, err = r.Open(context.Background(), cfg)
	if !errors.Is(err, modem.ErrNoModem) || len(opened) != 0 {
		t.Errorf("with voice modems: err %v, opened %+v", err, opened)
	}
}
