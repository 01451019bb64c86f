package modem_test

import (
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// TestPINSentOnceWhileSIMLags: a DW5550 still answers +CPIN? with SIM PIN
// for a moment after it accepted the PIN. EnterPIN returns only once the
// SIM is ready, and a second EnterPIN meanwhile (netctl seeing SIM PIN)
// never sends the PIN again.
func TestPINSentOnceWhileSIMLags(t *testing.T) {
	for _, profile := range []string{"dell-dw5550", "ericsson-f5521gw"} {
		t.Run(profile, func(t *testing.T) {
			r := newRig(t, profile, func(c *modemsim.Config) {
				c.PIN = "1234"
				c.PINReadyLag = 2 * time.Second
			})
			ctx := ctxT(t)
			if err := r.m.EnterPIN(ctx, "1234"); err != nil {
				t.Fatalf("EnterPIN: %v", err)
			}
			st, err := r.m.SIM(ctx)
			if err != nil || st.State != modem.SIMReady {
				t.Fatalf("SIM right after EnterPIN returned: %+v %v", st, err)
			}
			if err := r.m.EnterPIN(ctx, "1234"); err != nil {
				t.Fatalf("second EnterPIN: %v", err)
			}
			if n := r.sim.CountCommand(`AT+CPIN="1234"`); n != 1 {
				t.Fatalf("PIN sent %d times in one unlock", n)
			}
		})
	}
}
