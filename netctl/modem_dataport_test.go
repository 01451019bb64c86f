package netctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgebox/internal/config"
	"edgebox/modem"
)

// TestModemDataPortConfigValidated: network.modem.data_port (and port)
// take a tty name or a /dev path; anything else is refused naming the field.
func TestModemDataPortConfigValidated(t *testing.T) {
	for _, ok := range []string{"", "ttyUSB0", "/dev/ttyUSB0", "/dev/serial/by-id/usb-Sierra_Wireless-if00-port0", "/dev/pts/3"} {
		n := config.DefaultNetwork()
		n.Modem.DataPort, n.Modem.Port = ok, ok
		if err := n.Validate(); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"/tmp/ttyUSB0", "../ttyUSB0", "/dev/../etc/passwd", "tty USB0", "/dev/", "..", "ttyUSB0\n", "/dev//ttyUSB0", "dev/ttyUSB0"} {
		for _, field := range []string{"port", "data_port"} {
			n := config.DefaultNetwork()
			if field == "port" {
				n.Modem.Port = bad
			} else {
				n.Modem.DataPort = bad
			}
			err := n.Validate()
			if err == nil || !strings.Contains(err.Error(), "network.modem."+field+":") {
				t.Errorf("%s %q: got %v, want an error naming network.modem.%s", field, bad, err, field)
			}
		}
	}
}

// TestModemDataPortPassedOn: the configured data port reaches modem.Detect
// (DetectOptions.DataPort) and, when netctl builds the Device itself
// (port and profile configured), Device.DataPort, as a /dev path.
func TestModemDataPortPassedOn(t *testing.T) {
	var gotDetect modem.DetectOptions
	var gotOpen []modem.Device
	r := realModems{stateDir: filepath.Join(t.TempDir(), "state"),
		detect: func(ctx context.Context, o modem.DetectOptions) ([]modem.Device, error) {
			gotDetect = o
			return []modem.Device{{Port: "/dev/ttyUSB2", DataPort: "/dev/ttyUSB1", Profile: "sierra-mc8775"}}, nil
		},
		open: func(ctx context.Context, o modem.Options) (ModemDriver, error) {
			gotOpen = append(gotOpen, o.Device)
			return nil, modem.ErrNoModem
		}}
	// Detection: the configured name goes to DetectOptions.DataPort.
	r.Open(context.Background(), config.Modem{Enabled: true, DataPort: "ttyUSB1"})
	if gotDetect.DataPort != "ttyUSB1" {
		t.Errorf("DetectOptions.DataPort %q, want ttyUSB1", gotDetect.DataPort)
	}
	if len(gotOpen) != 1 || gotOpen[0].DataPort != "/dev/ttyUSB1" {
		t.Errorf("opened %+v, want the detected device", gotOpen)
	}
	// Port and profile configured: netctl builds the Device.
	at := "/dev/null"
	gotOpen = nil
	gotDetect = modem.DetectOptions{}
	r.Open(context.Background(), config.Modem{Enabled: true, Port: at, DataPort: "null", Profile: "sierra-mc8775"})
	if gotDetect.Port != "" {
		t.Error("modem.Detect ran although port and profile were configured")
	}
	if len(gotOpen) != 1 || gotOpen[0].Port != "/dev/null" || gotOpen[0].DataPort != "/dev/null" || gotOpen[0].Profile != "sierra-mc8775" {
		t.Fatalf("opened %+v, want Port and DataPort /dev/null", gotOpen)
	}
	// A configured data port that does not exist: no modem, not opened.
	gotOpen = nil
	_, err := r.Open(context.Background(), config.Modem{Enabled: true, Port: at, DataPort: "/dev/ttyNoSuchDataPort9", Profile: "sierra-mc8775"})
	if err == nil || !strings.Contains(err.Error(), "data port") || len(gotOpen) != 0 {
		t.Errorf("missing data port: err %v, opened %+v", err, gotOpen)
	}
	if _, err := os.Stat(r.stateDir); err != nil {
		t.Errorf("state dir: %v", err)
	}
}
