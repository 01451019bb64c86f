package netctl_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/netctl"
)

// States a card reaches in the field that issue 16's matrix did not put it
// in: the radio switched off by the card itself, netctl killed -9 in the
// middle of a dial, a network detach with the data link's carrier kept,
// answers that come after netctl's timeout, an error code netctl has no
// word for. In each the box must come back online by itself, and the
// status must say why it is not online meanwhile.

// modemWhy is the modem's state and error, for failure messages.
func (r *rig) modemWhy() string {
	st := r.status()
	if st.Modem == nil {
		return "no modem status"
	}
	return fmt.Sprintf("%s %q (resets %d)", st.Modem.State, st.Modem.Error, st.Modem.Resets)
}

// TestNamespaceModemRadioOffByItself: the card leaves full function on its
// own (firmware crash, thermal flight mode: CFUN 0 or 4) while connected;
// netctl must notice, say so, and turn the radio on again.
func TestNamespaceModemRadioOffByItself(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		profile, cfun string
		simOff        bool // the card powers its SIM down in CFUN 0
	}{
		{"huawei-me909s", "4", false},
		{"quectel-ec25", "0", false},
		{"dell-dw5550", "4", false},
		{"quectel-ec25", "0", true},
		{"huawei-me909s", "0", true},
	} {
		name := tc.profile + "-cfun" + tc.cfun
		if tc.simOff {
			name += "-sim-off"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("rb%d", i))
			sim := r.startOnline("LTE up", tc.profile)
			if tc.simOff {
				sim.control("simoff on")
			}
			sim.control("radio " + tc.cfun)
			r.waitFor("the radio turned on again", 90*time.Second, func() (bool, string) {
				return sim.cfun() == 1, r.modemWhy()
			})
			r.waitOnline("LTE back after the card turned its radio off", 90*time.Second)
		})
	}
}

// TestNamespaceModemKilledMidDial: netctl is killed -9 while the dial is in
// flight, so its shutdown never runs; the card is left connecting (or
// connected, with nobody owning the link). The next netctl brings the box
// online.
func TestNamespaceModemKilledMidDial(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"huawei-me909s", "quectel-ec25", "dell-dw5550"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("kd%d", i))
			r.setCarrier("ltep", false)
			r.startDNSMasq("ltep", lteNet)
			// Answers come late while dialling, so the kill lands in
			// the middle of it.
			sim := r.startModemsimArgs(profile, "")
			dial := dialCommand(profile)
			sim.control("late " + dial + " 1 1500")
			r.writeConfig(modemConfig(sim.pty, profile))
			r.startNetctl()
			r.waitFor("dial sent", 60*time.Second, func() (bool, string) {
				return indexOf(sim.commands(), dial) >= 0, r.modemWhy()
			})
			r.proc.Process.Signal(syscall.SIGKILL)
			<-r.procDone
			r.proc = nil
			r.startNetctl()
			r.waitOnline("LTE up after netctl was killed mid-dial", 90*time.Second)
		})
	}
}

// TestNamespaceModemDetachKeepsCarrier: the network deregisters the card
// (+CGREG: 3/4/0) while its data link keeps carrier. The status must say the
// network is lost rather than "connected"; when the network takes the card
// back the box is online again.
func TestNamespaceModemDetachKeepsCarrier(t *testing.T) {
	t.Parallel()
	for i, stat := range []string{"3", "4", "0"} {
		t.Run("stat"+stat, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("dt%d", i))
			sim := r.startOnline("LTE up", "huawei-me909s")
			sim.control("detach " + stat)
			r.waitFor("the detach shown in words", 60*time.Second, func() (bool, string) {
				st := r.status()
				return st.Modem.State == netctl.ModemRegistering && st.Modem.Error != "", r.modemWhy()
			})
			t.Logf("shown: %s", r.modemWhy())
			sim.control("attach")
			r.waitOnline("LTE back after the network took the card again", 90*time.Second)
		})
	}
}

// TestNamespaceModemLateAnswers: the card answers three commands after
// netctl's timeout (so each late answer arrives while the next command
// waits); netctl must not read answers one command late, and the box stays
// or comes back online.
func TestNamespaceModemLateAnswers(t *testing.T) {
	t.Parallel()
	r := newRig(t, "la")
	sim := r.startOnline("LTE up", "quectel-ec25")
	sim.control("late AT 3 6000")
	sim.control("drop")
	r.waitOnline("LTE back after a drop with late answers", 120*time.Second)
	st := r.status()
	if st.Modem.Identity == nil || st.Modem.Identity.IMEI != "867223020123456" {
		t.Errorf("identity after late answers: %+v", st.Modem.Identity)
	}
}

// TestNamespaceModemUnknownErrorCode: the dial fails with a vendor +CME
// ERROR code that is not in 27.007's table. The status names the code in a
// sentence (no Go jargon, no tty path) and the next dial brings the box
// online.
func TestNamespaceModemUnknownErrorCode(t *testing.T) {
	t.Parallel()
	r := newRig(t, "uc")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("huawei-me909s", "")
	dial := dialCommand("huawei-me909s")
	sim.control("fail " + dial + " +CME ERROR: 921")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitOnline("LTE up after the vendor error", 90*time.Second)
	if !strings.Contains(r.log.String(), "921") {
		t.Errorf("the vendor error code 921 is not in netctl's log")
	}
}

// TestNamespaceModemConnectedNoDHCP: the card says the data session is up
// (and raises carrier) but nothing answers DHCP on it, as when the
// carrier's gateway or the card's own DHCP server is stuck. The status
// must say in words that the network gives no address, and the box must
// come online by itself once DHCP answers.
func TestNamespaceModemConnectedNoDHCP(t *testing.T) {
	t.Parallel()
	r := newRig(t, "nd")
	r.setCarrier("ltep", false)
	sim := r.startModemsimArgs("huawei-me909s", "")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitFor("no address shown in words", 90*time.Second, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		shown := st.Modem.Error + " " + u.LastError
		return st.Modem.Link != nil && st.Modem.Link.Connected && strings.Contains(strings.ToLower(shown), "address"),
			fmt.Sprintf("%s; uplink %s %q dhcp %+v", r.modemWhy(), u.State, u.LastError, u.DHCP)
	})
	t.Logf("shown: %s / %s", r.modemWhy(), uplink(r.status(), "modem").LastError)
	r.startDNSMasq("ltep", lteNet)
	r.waitOnline("LTE up once DHCP answers", 120*time.Second)
}

// TestNamespaceModemAPNNeedsLogin: the operator's APN needs a user name and
// password (cause 29 without them). The status says that it is the login
// that is missing, on each vendor's refusal indication, and the box is
// online once the login is set by a reload.
func TestNamespaceModemAPNNeedsLogin(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"huawei-me909s", "quectel-ec25", "dell-dw5550"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("al%d", i))
			r.setCarrier("ltep", false)
			r.startDNSMasq("ltep", lteNet)
			sim := r.startModemsimArgs(profile, "", "--apn-login", "web:web")
			cfg := modemConfig(sim.pty, profile)
			r.writeConfig(cfg)
			r.startNetctl()
			r.waitFor("the missing login shown", 90*time.Second, func() (bool, string) {
				st := r.status()
				e := st.Modem.Error
				return strings.Contains(e, "29") && strings.Contains(e, "user name or password"), r.modemWhy()
			})
			m := cfg["network"].(map[string]any)["modem"].(map[string]any)
			m["user"], m["password"] = "web", "web"
			r.writeConfig(cfg)
			r.proc.Process.Signal(sighup)
			r.waitOnline("LTE up with the login", 90*time.Second)
		})
	}
}

// TestNamespaceModemKilledWhileConnected: netctl is killed -9 while the
// card is connected, so the card keeps its data session (and its radio)
// with nobody owning it; the next netctl must take over or redial, not
// fail on "already connected".
func TestNamespaceModemKilledWhileConnected(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"huawei-me909s", "quectel-ec25", "dell-dw5550", "generic"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("kc%d", i))
			sim := r.startOnline("LTE up", profile)
			r.proc.Process.Signal(syscall.SIGKILL)
			<-r.procDone
			r.proc = nil
			if c := sim.cfun(); c != 1 {
				t.Fatalf("CFUN %d after kill -9: the rig did not leave the radio on", c)
			}
			r.startNetctl()
			r.waitOnline("LTE up after netctl was killed while connected", 90*time.Second)
		})
	}
}

// TestNamespaceModemLateAnswerAtStart: the card answers AT+CGMI after
// netctl's timeout while netctl reads the identity at start; no later
// answer may be taken one command late (the IMEI shown as the model, the
// IMSI as the IMEI).
func TestNamespaceModemLateAnswerAtStart(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ls")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("quectel-ec25", "")
	sim.control("late AT+CGMI 1 7000")
	r.writeConfig(modemConfig(sim.pty, "quectel-ec25"))
	r.startNetctl()
	r.waitOnline("LTE up after a late answer at start", 120*time.Second)
	r.waitFor("the identity read right", 60*time.Second, func() (bool, string) {
		id := r.status().Modem.Identity
		return id != nil && id.IMEI == "867223020123456" && id.IMSI == "262011234567890" && !strings.Contains(id.Model, "8672230"),
			fmt.Sprintf("%+v", id)
	})
}
