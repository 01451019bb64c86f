package netctl_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/netctl"
)

// Cards as the independent emulator words them (modemsim cardfaults.go):
// a SIM swapped while the box runs, and an operator named in UCS-2 hex.

const swappedICCID = "89490200009876543210"

// TestNamespaceModemSIMSwappedWhileOnline: moments after the SIM took the
// configured PIN, another SIM with the same PIN is swapped in; the card
// says only "+CPIN: SIM PIN". netctl enters the PIN on the new SIM and
// the box is online again. Before, the new SIM's request was taken for
// the old one lagging behind its PIN: no PIN for a minute, and the status
// said "the SIM accepted the PIN but is not ready yet".
func TestNamespaceModemSIMSwappedWhileOnline(t *testing.T) {
	t.Parallel()
	r := newRig(t, "sw")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsim("quectel-ec25", "1234")
	cfg := modemConfig(sim.pty, "quectel-ec25")
	cfg["network"].(map[string]any)["modem"].(map[string]any)["pin"] = "1234"
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitOnline("LTE up with the first SIM", 90*time.Second)
	sim.control("simswap " + swappedICCID + " 1234")
	r.waitFor("the swapped-in SIM unlocked and online", 90*time.Second, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		ok := st.Modem != nil && st.Modem.State == netctl.ModemConnected && u.State == "healthy" &&
			st.Modem.SIM != nil && st.Modem.SIM.ICCID == swappedICCID
		return ok, r.modemWhy()
	})
	if n := countPrefix(sim.commands(), `AT+CPIN="1234"`); n != 2 {
		t.Errorf("PIN sent %d times, want twice (once per SIM)", n)
	}
	if strings.Contains(r.log.String(), "accepted the PIN but is not ready") {
		t.Errorf("the swapped-in SIM was taken for the first one lagging behind its PIN")
	}
}

// TestNamespaceModemRightSIMAfterWrongOne: the SIM in the box refuses the
// configured PIN (it is another SIM's); the installer swaps in the SIM
// the PIN belongs to, without touching the settings. netctl tries the
// PIN on that SIM and comes online. Before, the PIN that failed was kept
// as failed for any SIM: "the configured PIN was rejected by the SIM"
// until the settings changed.
func TestNamespaceModemRightSIMAfterWrongOne(t *testing.T) {
	t.Parallel()
	r := newRig(t, "rs")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsim("huawei-me909s", "1111")
	cfg := modemConfig(sim.pty, "huawei-me909s")
	cfg["network"].(map[string]any)["modem"].(map[string]any)["pin"] = "1234"
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("the wrong SIM refused the PIN", 60*time.Second, func() (bool, string) {
		st := r.status()
		return st.Modem != nil && st.Modem.State == netctl.ModemSIM && strings.Contains(st.Modem.Error, "rejected"), r.modemWhy()
	})
	sim.control("simswap " + swappedICCID + " 1234")
	r.waitOnline("LTE up with the SIM the PIN belongs to", 120*time.Second)
	if n := countPrefix(sim.commands(), `AT+CPIN="1234"`); n != 2 {
		t.Errorf("PIN sent %d times, want twice (once per SIM)", n)
	}
}

// TestNamespaceModemOperatorInUCS2Hex: the card names its operator in
// UCS-2 hex (Huawei firmware does whatever AT+CSCS says); the status shows
// the name.
func TestNamespaceModemOperatorInUCS2Hex(t *testing.T) {
	t.Parallel()
	r := newRig(t, "uo")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsim("huawei-me909s", "")
	sim.control("opucs2 on")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitOnline("LTE up", 90*time.Second)
	r.waitFor("the operator's name shown", 30*time.Second, func() (bool, string) {
		st := r.status()
		if st.Modem == nil || st.Modem.Registration == nil {
			return false, "no registration"
		}
		return st.Modem.Registration.Operator == "Telekom.de", fmt.Sprintf("operator %q", st.Modem.Registration.Operator)
	})
}

// TestNamespaceModemATPortDeadDataFlows: the card stops answering on its
// AT port only (firmware's AT task hung) while its data link keeps
// carrying traffic. The status says the modem does not answer, and the
// box keeps its working LTE uplink meanwhile: no teardown of a link that
// passes its health checks.
func TestNamespaceModemATPortDeadDataFlows(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ad")
	sim := r.startOnline("LTE up", "quectel-ec25")
	sim.control("hang on")
	r.waitFor("not responding shown", 60*time.Second, func() (bool, string) {
		st := r.status()
		return st.Modem != nil && st.Modem.State == netctl.ModemNotResponding, r.modemWhy()
	})
	// For the next 40 s the uplink must stay up: data still flows.
	end := time.Now().Add(40 * time.Second)
	for time.Now().Before(end) {
		st := r.status()
		u := uplink(st, "modem")
		if !u.Active || u.State != "healthy" || r.defaultRoute() != "lte0" {
			t.Fatalf("LTE uplink dropped while its data still flowed: uplink %s active %v route %s; modem %s", u.State, u.Active, r.defaultRoute(), r.modemWhy())
		}
		time.Sleep(2 * time.Second)
	}
	sim.control("hang off")
	r.waitOnline("LTE up after the AT port answers again", 120*time.Second)
}
