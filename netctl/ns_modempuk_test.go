package netctl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"edgebox/api/netapi"
)

// TestNamespaceModemPUKThroughAPI: the SIM came to the box blocked (three
// wrong PINs in a phone: modemsim puklock). The status asks for the PUK
// with the attempts left; a wrong PUK through the API answers with one
// attempt fewer and is not sent a second time; the right PUK with a new
// PIN unblocks the SIM, the box goes online, and the SIM takes the new
// PIN. Before, netctl had no way to enter a PUK at all.
func TestNamespaceModemPUKThroughAPI(t *testing.T) {
	t.Parallel()
	r := newRig(t, "pu")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "")
	sim.control("puklock")
	r.writeConfig(modemConfig(sim.pty, "quectel-ec25"))
	r.startNetctl()
	r.waitFor("the status asks for the PUK", 60*time.Second, func() (bool, string) {
		m := r.status().Modem
		return m != nil && strings.Contains(m.Error, "PUK") && strings.Contains(m.Error, "10 PUK attempts left"), m.Error
	})
	puk := func(p, pin string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
		defer cancel()
		_, err := r.client.EnterPUK(ctx, netapi.PUKRequest{PUK: p, NewPIN: pin})
		return err
	}
	if err := puk("1234", "4321"); err == nil || !strings.Contains(err.Error(), "8 digits") {
		t.Errorf("a 4-digit PUK: %v, want the format explained", err)
	}
	if err := puk("87654321", "4321"); err == nil || !strings.Contains(err.Error(), "9 PUK attempts left") {
		t.Fatalf("wrong PUK: %v, want 'rejected ... 9 PUK attempts left'", err)
	}
	if err := puk("87654321", "4321"); err == nil || !strings.Contains(err.Error(), "already rejected") {
		t.Errorf("the same wrong PUK again: %v, want it refused without sending", err)
	}
	if n := strings.Count(strings.Join(sim.commands(), "\n"), `AT+CPIN="87654321"`); n != 1 {
		t.Errorf("the wrong PUK reached the card %d times, want once", n)
	}
	if err := puk("12345678", "4321"); err != nil {
		t.Fatalf("right PUK: %v", err)
	}
	r.waitOnline("LTE up after the PUK", 90*time.Second)
	if err := puk("12345678", "4321"); err == nil || !strings.Contains(err.Error(), "not blocked") {
		t.Errorf("a PUK for an unblocked SIM: %v, want 'not blocked'", err)
	}
}
