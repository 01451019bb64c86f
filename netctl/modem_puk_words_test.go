package netctl

import (
	"strings"
	"testing"

	"edgebox/modem"
)

// A SIM with no PUK attempts left is dead: telling the installer to enter
// the PUK in a phone sends him to try what cannot work.
func TestSayPUKNoAttemptsLeft(t *testing.T) {
	dead := sayPUK(&modem.SIMStatus{State: modem.SIMPUK, PINAttempts: 0, PUKAttempts: 0})
	if strings.Contains(dead, "enter the PUK") || !strings.Contains(dead, "new SIM") {
		t.Errorf("no PUK attempts left: %q", dead)
	}
	for _, left := range []int{-1, 1, 10} {
		w := sayPUK(&modem.SIMStatus{State: modem.SIMPUK, PINAttempts: 0, PUKAttempts: left})
		if !strings.Contains(w, "enter the PUK") {
			t.Errorf("%d PUK attempts left: %q", left, w)
		}
	}
}
