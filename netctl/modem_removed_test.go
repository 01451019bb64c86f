package netctl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
	"edgebox/modem/modemsim"
)

// plugCard puts a simulated card at port (a new pty, linked where udev
// would name it); booting: it is still starting (deaf for its BootTime,
// then its boot URCs), as a card whose USB device just came back. pull
// takes it out (the pty and its node go), once.
func plugCard(t *testing.T, port string, booting bool) (pull func()) {
	t.Helper()
	_, pull = plugSim(t, port, booting)
	return pull
}

// plugSim is plugCard that also gives the simulated card.
func plugSim(t *testing.T, port string, booting bool) (*modemsim.Sim, func()) {
	t.Helper()
	sim, err := modemsim.New(modemsim.Config{Profile: "huawei-me909s", BootTime: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path, wait, err := sim.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if booting {
		sim.Reboot()
	}
	if err := os.Symlink(path, port); err != nil {
		t.Fatal(err)
	}
	var once bool
	pull := func() {
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
	return sim, pull
}

// removalRig runs a voice modem manager on port (no data uplink: the
// removal is the same for both) with grace as its restart grace.
func removalRig(t *testing.T, dir, port string, grace time.Duration, logTo io.Writer) *modemManager {
	log := slog.New(slog.NewTextHandler(logTo, nil))
	s := &Service{log: log, kick: make(chan struct{}, 1),
		opts: Options{Modems: realModems{stateDir: filepath.Join(dir, "state"), log: log}}}
	m := &modemManager{s: s, log: log, req: make(chan string, 4), done: make(chan struct{}), voiceSlot: "mpcie2",
		cfg:         config.VoiceModem{Slot: "mpcie2", Port: port, Profile: "huawei-me909s"}.AsModem(),
		signalEvery: time.Hour, removedGrace: grace}
	ctx, cancel := context.WithCancel(context.Background())
	go m.run(ctx)
	t.Cleanup(func() { cancel(); <-m.done })
	return m
}

func registeredCheck(m *modemManager) func() (bool, error) {
	return testenv.Why(func() (bool, string) {
		st := m.status()
		return st.State == netapi.ModemRegistered, fmt.Sprintf("%s %q", st.State, st.Error)
	})
}

// TestModemPulledOutSaidAtOnce: the card is pulled out of its slot (the
// simulated modem's pty goes away, its /dev node with it) and put back
// (a new pty where the port was). netctl says the USB device went away,
// then "modem removed (USB device gone)" once the grace for a card that
// restarts by itself is over, never that the modem does not answer and
// is being restarted, resets nothing, and uses the card again once it is
// back. Before, the engine timed the gone port out and recovered it for
// half a minute, the status meanwhile saying "the modem does not answer;
// the box is restarting it".
func TestModemPulledOutSaidAtOnce(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB2") // what udev would name the card
	pull := plugCard(t, port, false)
	m := removalRig(t, dir, port, 2*time.Second, io.Discard)
	registered := registeredCheck(m)
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

	plugCard(t, port, false)
	testenv.WaitFor(t, 30*time.Second, "the modem in use again once put back", registered)
	if st := m.status(); st.Error != "" {
		t.Errorf("back, the status still says %q", st.Error)
	}
}

// TestModemRestartingByItselfSaidSo: the card restarts by itself (its
// port vanishes and comes back two seconds later, the card still booting
// and deaf for three more): the status says it went away and is awaited,
// never "modem removed", then that it restarted by itself, and it is in
// use again without a box reboot. Before, it said "modem removed (USB
// device gone)" at once, and a card whose port came back before its
// firmware answered was called faulty and left alone for a minute.
func TestModemRestartingByItselfSaidSo(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB2")
	pull := plugCard(t, port, false)
	var log testenv.LogBuffer
	m := removalRig(t, dir, port, 30*time.Second, &log)
	registered := registeredCheck(m)
	testenv.WaitFor(t, 30*time.Second, "the voice modem registered", registered)

	pull()
	testenv.WaitFor(t, 10*time.Second, "the status says the USB device went away", func() (bool, error) {
		st := m.status()
		return st.State == netapi.ModemAbsent && st.Error == sayUSBGone, fmt.Errorf("%s %q", st.State, st.Error)
	})
	time.Sleep(2 * time.Second)
	plugCard(t, port, true)
	testenv.WaitFor(t, 40*time.Second, "the modem in use again after its own restart", registered)
	// Every state the status showed is in the log (setState logs each).
	for _, bad := range []string{sayRemoved, "state=" + netapi.ModemFaulty, "state=" + ModemNotResponding, "open modem port"} {
		if log.Contains(bad) {
			t.Errorf("a card restarting by itself shown as %q:\n%s", bad, log.String())
		}
	}
	if !log.Contains("the modem restarted by itself (its USB device was gone for") {
		t.Errorf("never said that the modem restarted by itself:\n%s", log.String())
	}
}

// TestModemATPortGoneNetStays: the card's AT port goes (a driver hiccup)
// while its network interface stays (a veth of its own stands for it): the status
// says the AT port went and data may still flow, never "modem removed",
// even after the grace; when the port is back the card is used again
// and nothing says it restarted. Before, such a card was shown removed
// while its data link carried the box's traffic.
func TestModemATPortGoneNetStays(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB2")
	pull := plugCard(t, port, false)
	var log testenv.LogBuffer
	m := removalRig(t, dir, port, time.Second, &log)
	// The card's network interface, still there: a veth of the
	// test's own. Not "lo": the manager's shutdown takes its interface
	// down, and the root namespace's loopback went down with it (every
	// loopback test on the machine then hung).
	iface := fmt.Sprintf("ebmd%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "link", "add", iface, "type", "veth", "peer", "name", iface+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add %s type veth: %v: %s", iface, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", iface).Run() })
	m.mu.Lock()
	m.iface = iface
	m.mu.Unlock()
	registered := registeredCheck(m)
	testenv.WaitFor(t, 30*time.Second, "the voice modem registered", registered)

	pull()
	testenv.WaitFor(t, 10*time.Second, "the status says the AT port went", func() (bool, error) {
		st := m.status()
		return st.Error == sayATPortGone, fmt.Errorf("%s %q", st.State, st.Error)
	})
	time.Sleep(3 * time.Second) // past the grace
	plugCard(t, port, false)
	testenv.WaitFor(t, 30*time.Second, "the modem in use again", registered)
	for _, bad := range []string{sayRemoved, "restarted by itself", "restarts by itself"} {
		if log.Contains(bad) {
			t.Errorf("a card whose network interface stayed shown as %q:\n%s", bad, log.String())
		}
	}
}
