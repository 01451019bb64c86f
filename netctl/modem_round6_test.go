package netctl

import (
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/testenv"
)

// TestDeniedCardRegistersAfresh: the network denies the card (as with
// EMM cause 3, 6 or 8, after which a card takes its SIM as invalid) and
// then takes it again (the operator put the subscription right), but the
// card keeps its denial until its radio is switched off and on. The box
// does that after the retry interval and the card registers without a
// reboot. Before, it stayed denied until the box was restarted.
func TestDeniedCardRegistersAfresh(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "ttyUSB2")
	sim, _ := plugSim(t, port, false)
	m := removalRig(t, dir, port, time.Minute, io.Discard)
	m.mu.Lock()
	m.deniedRetry = 3 * time.Second
	m.mu.Unlock()
	registered := registeredCheck(m)
	testenv.WaitFor(t, 30*time.Second, "the voice modem registered", registered)

	sim.RejectSticky(true)
	if err := sim.SetRegistration("denied"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, "the denial shown", func() (bool, error) {
		st := m.status()
		return st.State == ModemRegistering && st.Registration != nil && st.Registration.State == "denied",
			fmt.Errorf("%s %q %+v", st.State, st.Error, st.Registration)
	})
	if err := sim.SetRegistration("home"); err != nil { // the network takes it again
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "registered again without a reboot", registered)
	if st := m.status(); st.State != netapi.ModemRegistered {
		t.Errorf("state %s", st.State)
	}
}
