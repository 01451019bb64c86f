package modem_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// TestOpenWhileCardBoots: the modem service starts while the card is still
// booting: its port exists but answers nothing for 8 s (an EC25 or ME909
// after power-on, the box's own reboot). Open, with the engine's defaults
// as netctl uses them, must wait for it, not reset it: a vendor reset or a
// slot power cycle restarts the boot it was waiting for. On every profile.
func TestOpenWhileCardBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out an 8 s boot")
	}
	for _, p := range []string{"huawei-me909s", "dell-dw5550", "quectel-ec25", "generic"} {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			sim, path := startSim(t, modemsim.Config{Profile: p, BootTime: 8 * time.Second})
			sim.Reboot() // deaf for BootTime, then its boot URCs
			var slotResets atomic.Int32
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			opts := modem.Options{
				Device:    modem.Device{Port: path, Profile: p},
				SMSDir:    filepath.Join(t.TempDir(), "sms"),
				SlotReset: func() error { slotResets.Add(1); sim.PowerCycle(); return nil },
			}
			m, err := modem.Open(ctx, opts)
			if errors.Is(err, modem.ErrNeedsReset) {
				// EC25 in QMI mode: switched to ECM and restarted (its
				// boot is 8 s again); netctl detects it again.
				m, err = modem.Open(ctx, opts)
			}
			if err != nil {
				t.Fatalf("open while the card boots: %v (after %v)", err, time.Since(start).Round(time.Millisecond))
			}
			defer m.Close()
			t.Logf("open took %v", time.Since(start).Round(time.Millisecond))
			if n := slotResets.Load(); n > 0 {
				t.Errorf("the booting card was power-cycled %d times", n)
			}
			// The simulator records only what it took: a reset written
			// while it was deaf is not seen here (and a real booting
			// card ignores it too); one after the boot would be.
			prev := ""
			for _, c := range sim.Commands() {
				u := strings.ToUpper(c)
				if (u == "AT^RESET" || u == "AT*E2RESET" || u == "AT+CFUN=1,1") && !strings.HasPrefix(prev, `AT+QCFG="USBNET",`) {
					t.Errorf("the booting card was sent %s", c)
				}
				prev = u
			}
			if _, err := m.Identity(ctx); err != nil && !errors.Is(err, modem.ErrTimeout) {
				t.Errorf("identity after the boot: %v", err)
			}
		})
	}
}
