package netctl_test

import (
	"fmt"
	"testing"
	"time"
)

// Cards as the outside emulator's fifth round brings them.

// TestNamespaceModemSignalNeverKnown: the card answers +CSQ: 99,99 (and
// its vendor signal commands "unknown") from boot on, while registered
// and carrying data. The box goes online and stays so, and the status
// shows no signal value rather than a made-up one (99 read as -113 dBm
// or 0); the history holds no invented samples.
func TestNamespaceModemSignalNeverKnown(t *testing.T) {
	t.Parallel()
	r := newRig(t, "sq")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("huawei-me909s", "")
	sim.control("nosignal on")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitOnline("LTE up without a signal reading", 90*time.Second)
	time.Sleep(3 * time.Second)
	st := r.status()
	if st.Modem == nil || st.Modem.State != "connected" {
		t.Fatalf("modem %+v", st.Modem)
	}
	if sg := st.Modem.Signal; sg != nil && (sg.RSSI != nil || sg.RSRP != nil || sg.RSCP != nil) {
		t.Errorf("signal shown as %s", fmt.Sprint(*sg))
	}
	for _, h := range st.Modem.SignalHistory {
		if h.Signal.RSSI != nil || h.Signal.RSRP != nil {
			t.Errorf("history sample with a value the card never gave: %+v", h)
		}
	}
}
