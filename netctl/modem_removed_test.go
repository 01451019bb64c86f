package netctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
	"edgebox/modem/modemsim"
)

// TestModemPulledOutSaidAtOnce: the card is pulled out of its slot (the
// simulated modem's pty goes away, its /dev node with it) and put back
// (a new pty where the port was). netctl says "modem removed (USB device
// gone)" at once, never that the modem does not answer and is being
// restarted, resets nothing, and uses the card again once it is back.
// Before, the engine timed the gone port out and recovered it for half a
// minute, the status meanwhile saying "the modem does not answer; the
// box is restarting it".
func TestModemPulledOutSaidAtOnce(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB2") // what udev would name the card
	plug := func() (pull func()) {
		t.Helper()
		sim, err := modemsim.New(modemsim.Config{Profile: "huawei-me909s"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		path, wait, err := sim.ServePTY(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(path, port); err != nil {
			t.Fatal(err)
		}
		var once bool
		pull = func() {
			if once {
				return
			}
			once = true
			cancel() // the master closes: the pty and its node are gone
			wait()
			sim.Close()
			os.Remove(port) // the dangling link, for the next card
		}
		t.Cleanup(pull)
		return pull
	}
	pull := plug()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &Service{log: log, kick: make(chan struct{}, 1),
		opts: Options{Modems: realModems{stateDir: filepath.Join(dir, "state"), log: log}}}
	m := &modemManager{s: s, log: log, req: make(chan string, 4), done: make(chan struct{}), voiceSlot: "mpcie2",
		cfg:         config.VoiceModem{Slot: "mpcie2", Port: port, Profile: "huawei-me909s"}.AsModem(),
		signalEvery: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	go m.run(ctx)
	defer func() { cancel(); <-m.done }()

	registered := testenv.Why(func() (bool, string) {
		st := m.status()
		return st.State == netapi.ModemRegistered, fmt.Sprintf("%s %q", st.State, st.Error)
	})
	testenv.WaitFor(t, 30*time.Second, "the voice modem registered", registered)

	pull()
	// Whatever the status shows until it says removed must not send the
	// installer to a hung modem.
	testenv.WaitFor(t, 20*time.Second, "the status says the modem was removed", func() (bool, error) {
		st := m.status()
		if st.State == ModemNotResponding || strings.Contains(st.Error, "restarting") {
			return false, testenv.Final(fmt.Errorf("a pulled modem shown as %s %q", st.State, st.Error))
		}
		return st.State == netapi.ModemAbsent && st.Error == sayRemoved, fmt.Errorf("%s %q", st.State, st.Error)
	})
	if st := m.status(); st.Resets != 0 {
		t.Errorf("%d resets of a modem that is not there", st.Resets)
	}

	plug()
	testenv.WaitFor(t, 30*time.Second, "the modem in use again once put back", registered)
	if st := m.status(); st.Error != "" {
		t.Errorf("back, the status still says %q", st.Error)
	}
}
