package netctl_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/netctl"
)

func modemsimBinary(t testing.TB) string { return builtCmd(t, "modemsim") }

// simulator is a running modemsim whose CDC Ethernet port is ltep's peer.
type simulator struct {
	t    testing.TB
	pty  string
	ctl  string
	logs *testenv.LogBuffer
}

func (r *rig) startModemsim(profile, pin string) *simulator {
	r.t.Helper()
	return r.startModemsimArgs(profile, pin)
}

// startModemsimArgs is startModemsim with extra modemsim flags.
func (r *rig) startModemsimArgs(profile, pin string, extra ...string) *simulator {
	r.t.Helper()
	return r.startModemsimAt("modemsim.ctl", profile, pin, append([]string{"--netdev", "ltep", "--netns", r.inet}, extra...)...)
}

// startModemsimAt starts a modemsim with its control socket ctl (a name
// in the rig's directory), without a data interface unless extra gives one
// (a voice-only second modem).
func (r *rig) startModemsimAt(ctl, profile, pin string, extra ...string) *simulator {
	r.t.Helper()
	s := &simulator{t: r.t, ctl: filepath.Join(r.dir, ctl), logs: &testenv.LogBuffer{}}
	args := []string{"--pty", "--profile", profile, "--control", s.ctl}
	if pin != "" {
		args = append(args, "--pin", pin)
	}
	args = append(args, extra...)
	cmd := exec.Command(modemsimBinary(r.t), args...)
	cmd.Stderr = s.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if r.t.Failed() {
			r.t.Logf("modemsim log (tail):\n%s", testenv.Tail(s.logs.String(), 4000))
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- strings.TrimSpace(sc.Text())
		}
		for sc.Scan() {
		}
	}()
	select {
	case s.pty = <-line:
	case <-time.After(10 * time.Second):
		r.t.Fatal("modemsim printed no pty path")
	}
	return s
}

// control sends one control command and returns its answer.
func (s *simulator) control(cmd string) string {
	s.t.Helper()
	c, err := net.DialTimeout("unix", s.ctl, 5*time.Second)
	if err != nil {
		s.t.Fatalf("modemsim control: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintln(c, cmd)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		s.t.Fatalf("modemsim control %q: %v", cmd, err)
	}
	if !strings.HasPrefix(line, "OK") {
		s.t.Fatalf("modemsim control %q: %s", cmd, line)
	}
	return strings.TrimSpace(strings.TrimPrefix(line, "OK"))
}

// commands is every AT command line modemsim received, in order.
func (s *simulator) commands() []string {
	var cmds []string
	out := s.control("commands")
	if err := json.Unmarshal([]byte(out), &cmds); err != nil {
		s.t.Fatalf("commands %q: %v", out, err)
	}
	return cmds
}

func indexOf(cmds []string, prefix string) int {
	for i, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), strings.ToUpper(prefix)) {
			return i
		}
	}
	return -1
}

// lastIndexOf is indexOf from the end: the last command with prefix.
func lastIndexOf(cmds []string, prefix string) int {
	for i := len(cmds) - 1; i >= 0; i-- {
		if strings.HasPrefix(strings.ToUpper(cmds[i]), strings.ToUpper(prefix)) {
			return i
		}
	}
	return -1
}

func countPrefix(cmds []string, prefix string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), strings.ToUpper(prefix)) {
			n++
		}
	}
	return n
}

func lteConfig(pty, pin string) map[string]any {
	c := baseConfig()
	n := c["network"].(map[string]any)
	n["uplinks"] = []any{"modem"} // LTE only
	n["wan"] = map[string]any{"enabled": false, "method": "dhcp"}
	n["modem"] = map[string]any{"enabled": true, "port": pty, "profile": "huawei-me909s", "interface": "lte0",
		"method": "dhcp", "apn": "internet.test", "pin": pin, "reset_after_sec": 0}
	return c
}

// TestNamespaceModemLTE drives a simulated Huawei ME909s: a wrong PIN is
// sent once and never again; the right PIN, given by a config reload,
// unlocks the SIM; the modem connects, modemsim raises the carrier of the
// CDC Ethernet veth and DHCP configures it; the API shows identity, SIM,
// registration and signal; SMS are received, listed, sent and deleted; the
// AT passthrough answers; disconnect/connect and a network drop are
// followed; on SIGTERM the link is taken down before the radio goes off.
func TestNamespaceModemLTE(t *testing.T) {
	t.Parallel()
	r := newRig(t, "md")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("huawei-me909s", "1234", "--number", "+491701234567")
	r.writeConfig(lteConfig(sim.pty, "4321"))
	r.startNetctl()
	ctx := context.Background()

	r.waitFor("wrong PIN reported", 30*time.Second, func() (bool, string) {
		m, err := r.client.Modem(ctx)
		return err == nil && m.State == netctl.ModemSIM && strings.Contains(m.Error, "rejected"), fmt.Sprintf("%+v %v", m, err)
	})
	time.Sleep(2 * time.Second) // give a buggy retry loop the chance to burn another attempt
	if n := countPrefix(sim.commands(), `AT+CPIN="4321"`); n != 1 {
		t.Fatalf("wrong PIN sent %d times, want exactly once", n)
	}
	// The rejected-PIN record lives in the modem state dir under the data
	// dir (EDGEBOX_PERM_DIR is r.dir), not in the SMS folder.
	stateDir := filepath.Join(r.dir, "edgebox", "modem")
	if fi, err := os.Stat(stateDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("modem state dir: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(stateDir, ".rejected-pins.json")); err != nil {
		t.Errorf("rejected-PIN record not in the modem state dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "sms", ".rejected-pins.json")); err == nil {
		t.Error("rejected-PIN record in the SMS folder")
	}

	// The installer fixes the PIN; the config is reloaded (SIGHUP).
	r.writeConfig(lteConfig(sim.pty, "1234"))
	r.proc.Process.Signal(sighup)
	r.waitFor("LTE up", 60*time.Second, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		return st.Modem != nil && st.Modem.State == netctl.ModemConnected && u.Active && u.State == "healthy" && r.defaultRoute() == "lte0",
			fmt.Sprintf("modem %+v uplink %s %s", st.Modem, u.State, u.Address)
	})
	m, err := r.client.Modem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Identity == nil || !strings.Contains(m.Identity.Model, "ME909") || m.Identity.IMEI == "" {
		t.Errorf("identity %+v", m.Identity)
	}
	if m.SIM == nil || m.SIM.State != "ready" {
		t.Errorf("sim %+v", m.SIM)
	}
	if m.Registration == nil || !m.Registration.State.Registered() {
		t.Errorf("registration %+v", m.Registration)
	}
	if m.Signal == nil || len(m.SignalHistory) == 0 || m.APN != "internet.test" {
		t.Errorf("signal %+v history %d apn %q", m.Signal, len(m.SignalHistory), m.APN)
	}
	// Antenna alignment and SIM details: the band from ^HFREQINFO, the
	// SIM's number from +CNUM.
	if m.Signal == nil || m.Signal.Band != "LTE BAND 3" {
		t.Errorf("band: signal %+v", m.Signal)
	}
	// Both are read again once the PIN has unlocked the SIM.
	if m.Identity == nil || m.Identity.Number != "+491701234567" || m.Identity.IMSI != "262011234567890" {
		t.Errorf("number: identity %+v", m.Identity)
	}
	if i := indexOf(sim.commands(), `AT^NDISDUP=1,1,"internet.test"`); i < 0 {
		t.Errorf("no ^NDISDUP dial with the APN in %q", sim.commands())
	}

	// SMS in, list, send, delete.
	sim.control("sms +4915550001 hello box")
	var got []string
	r.waitFor("SMS stored", 20*time.Second, func() (bool, string) {
		l, err := r.client.ListSMS(ctx)
		got = got[:0]
		for _, s := range l {
			got = append(got, s.ID+"="+s.Text)
		}
		return err == nil && len(l) == 1 && l[0].Text == "hello box" && l[0].From == "+4915550001", fmt.Sprint(got, err)
	})
	sent, err := r.client.SendSMS(ctx, "+4915550002", "box here")
	if err != nil || sent.Parts != 1 {
		t.Errorf("send SMS: %+v %v", sent, err)
	}
	if indexOf(sim.commands(), "AT+CMGS=") < 0 {
		t.Error("no AT+CMGS sent")
	}
	if _, err := r.client.SendSMS(ctx, "not a number", "x"); err == nil {
		t.Error("bad number accepted")
	}
	l, _ := r.client.ListSMS(ctx)
	for _, s := range l {
		if err := r.client.DeleteSMS(ctx, s.ID); err != nil {
			t.Errorf("delete %s: %v", s.ID, err)
		}
	}
	if l, _ := r.client.ListSMS(ctx); len(l) != 0 {
		t.Errorf("after delete: %d messages", len(l))
	}

	// AT passthrough, logged.
	at, err := r.client.AT(ctx, "AT+CGMM")
	if err != nil || !strings.Contains(strings.Join(at.Lines, "\n"), "ME909") {
		t.Errorf("AT+CGMM: %+v %v", at, err)
	}
	if _, err := r.client.AT(ctx, "rm -rf /"); err == nil {
		t.Error("non-AT passthrough accepted")
	}
	if !strings.Contains(r.log.String(), "AT passthrough") {
		t.Error("AT passthrough not logged")
	}

	// Admin disconnect: link down, uplink down; connect brings it back.
	if err := r.client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitFor("disconnected", 20*time.Second, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		return st.Modem.State == netctl.ModemDisconnected && !u.Active && !u.Carrier, fmt.Sprintf("%s %s", st.Modem.State, u.State)
	})
	if err := r.client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitFor("reconnected", 40*time.Second, func() (bool, string) {
		st := r.status()
		return st.Modem.State == netctl.ModemConnected && uplink(st, "modem").Active, st.Modem.State
	})

	// The network drops the connection: netctl redials by itself.
	dials := countPrefix(sim.commands(), "AT^NDISDUP=1,1")
	sim.control("drop")
	r.waitFor("redialled after drop", 40*time.Second, func() (bool, string) {
		st := r.status()
		return countPrefix(sim.commands(), "AT^NDISDUP=1,1") > dials && st.Modem.State == netctl.ModemConnected && uplink(st, "modem").Active,
			st.Modem.State
	})

	// Shutdown: link down, then radio off (Huawei +CFUN=0).
	r.stopNetctl()
	cmds := sim.commands()
	down, off := lastIndexOf(cmds, "AT^NDISDUP=1,0"), lastIndexOf(cmds, "AT+CFUN=0")
	if down < 0 || off < 0 || off < down {
		t.Errorf("shutdown order: disconnect at %d, radio off at %d in %q", down, off, cmds[max(0, len(cmds)-8):])
	}
}

// TestNamespaceModemAddressFromModem: an Ericsson card whose address comes
// from *E2IPCFG (method "modem") instead of DHCP; on shutdown *ENAP=0 goes
// before the Ericsson radio-off +CFUN=4.
func TestNamespaceModemAddressFromModem(t *testing.T) {
	t.Parallel()
	r := newRig(t, "me")
	r.setCarrier("ltep", false)
	// modemsim's default hand-out is 10.8.219.204/29 via .201: the carrier
	// side of the veth gets the gateway address.
	run(t, "ip", "-n", r.inet, "addr", "add", "10.8.219.201/29", "dev", "ltep")
	sim := r.startModemsim("ericsson-f5521gw", "")
	cfg := lteConfig(sim.pty, "")
	m := cfg["network"].(map[string]any)["modem"].(map[string]any)
	m["profile"], m["method"] = "ericsson-f5521gw", "modem"
	delete(m, "pin")
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("LTE up with the modem's address", 60*time.Second, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		return u.Active && u.State == "healthy" && strings.HasPrefix(u.Address, "10.8.219.204/") && u.Gateway == "10.8.219.201" && r.defaultRoute() == "lte0",
			fmt.Sprintf("modem %+v uplink %+v", st.Modem, u)
	})
	if u := uplink(r.status(), "modem"); u.DHCP != nil {
		t.Errorf("DHCP client running with method modem: %+v", u.DHCP)
	}
	if indexOf(sim.commands(), "AT*E2IPCFG?") < 0 {
		t.Error("address not read with AT*E2IPCFG?")
	}
	serve(t, r.inetNS, internetIP+":8080")
	if seen, err := dialFrom(r.boxNS, internetIP+":8080", 3*time.Second); err != nil || seen != "10.8.219.204" {
		t.Errorf("box to internet over the modem's address: seen as %q, %v", seen, err)
	}
	r.stopNetctl()
	cmds := sim.commands()
	down, off := lastIndexOf(cmds, "AT*ENAP=0"), lastIndexOf(cmds, "AT+CFUN=4")
	if down < 0 || off < down {
		t.Errorf("shutdown order: *ENAP=0 at %d, +CFUN=4 at %d in %q", down, off, cmds[max(0, len(cmds)-8):])
	}
}

// TestNamespaceModemResetWhenLinkDead: the modem connects but its link
// never carries traffic (the carrier's DHCP server is gone): after
// network.modem.reset_after_sec the modem is reset and redialled.
func TestNamespaceModemResetWhenLinkDead(t *testing.T) {
	t.Parallel()
	r := newRig(t, "rs")
	r.setCarrier("ltep", false)
	sim := r.startModemsim("huawei-me909s", "")
	cfg := lteConfig(sim.pty, "")
	m := cfg["network"].(map[string]any)["modem"].(map[string]any)
	m["reset_after_sec"] = 30
	delete(m, "pin")
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("connected", 30*time.Second, func() (bool, string) {
		st := r.status()
		return st.Modem.State == netctl.ModemConnected, st.Modem.State
	})
	dials := countPrefix(sim.commands(), "AT^NDISDUP=1,1")
	// The escalation: open the modem again first, then the vendor reset.
	r.waitFor("reset and redial", 150*time.Second, func() (bool, string) {
		st := r.status()
		cmds := sim.commands()
		return st.Modem.Resets >= 2 && indexOf(cmds, "AT^RESET") >= 0 && countPrefix(cmds, "AT^NDISDUP=1,1") > dials,
			fmt.Sprintf("resets %d state %s", st.Modem.Resets, st.Modem.State)
	})
	if st := r.status(); st.Active != "" {
		t.Errorf("active uplink %q with a dead link", st.Active)
	}
}

// modemConfig is lteConfig for profile, without a PIN, with DHCP on lte0.
// startOnline puts a carrier with DHCP behind ltep, starts modemsim as
// profile (no PIN, extra arguments simArgs) and netctl configured for it,
// and waits until the LTE uplink is up (what names the wait).
func (r *rig) startOnline(what, profile string, simArgs ...string) *simulator {
	r.t.Helper()
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs(profile, "", simArgs...)
	r.writeConfig(modemConfig(sim.pty, profile))
	r.startNetctl()
	r.waitOnline(what, 90*time.Second)
	return sim
}

func modemConfig(pty, profile string) map[string]any {
	cfg := lteConfig(pty, "")
	m := cfg["network"].(map[string]any)["modem"].(map[string]any)
	m["profile"] = profile
	delete(m, "pin")
	return cfg
}

// waitOnline waits until the modem uplink carries the default route.
func (r *rig) waitOnline(what string, timeout time.Duration) {
	r.t.Helper()
	r.waitFor(what, timeout, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		return st.Modem != nil && st.Modem.State == netctl.ModemConnected && u.Active && u.State == "healthy" && r.defaultRoute() == "lte0",
			fmt.Sprintf("modem %+v uplink %s %s", st.Modem, u.State, u.Address)
	})
}

// simCFUN is the simulated card's +CFUN state.
func (s *simulator) cfun() int {
	var st struct {
		CFUN int `json:"cfun"`
	}
	if err := json.Unmarshal([]byte(s.control("state")), &st); err != nil {
		s.t.Fatal(err)
	}
	return st.CFUN
}

// TestNamespaceModemRadioOnAfterRestart: netctl's shutdown turns the radio
// off (the card keeps CFUN 0/4 while the box runs); the next start must
// turn it on again, reading +CFUN? rather than assuming. Also a card that
// boots in CFUN 4 driven by the generic profile (a probed Ericsson).
func TestNamespaceModemRadioOnAfterRestart(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ profile, simArgs string }{
		{"huawei-me909s", ""},
		{"quectel-ec25", ""},
		{"ericsson-f5521gw", ""},
		{"generic", "--cfun 4"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("ro%d", i))
			sim := r.startOnline("LTE up at first start", tc.profile, strings.Fields(tc.simArgs)...)
			r.stopNetctl()
			if c := sim.cfun(); c == 1 {
				t.Fatalf("radio still on after netctl stopped (CFUN %d)", c)
			}
			r.startNetctl()
			r.waitOnline("LTE up after a netctl restart", 90*time.Second)
			if i := indexOf(sim.commands(), "AT+CFUN?"); i < 0 {
				t.Errorf("+CFUN? never read")
			}
		})
	}
}

// TestNamespaceModemResetWhileRegistering: reset_after_sec must escalate
// (open again, then the vendor reset) from every state, not only while
// connected: here the network never takes the card (searching).
func TestNamespaceModemResetWhileRegistering(t *testing.T) {
	t.Parallel()
	r := newRig(t, "rr")
	r.setCarrier("ltep", false)
	sim := r.startModemsim("huawei-me909s", "")
	sim.control("reg searching")
	cfg := modemConfig(sim.pty, "huawei-me909s")
	cfg["network"].(map[string]any)["modem"].(map[string]any)["reset_after_sec"] = 30
	r.writeConfig(cfg)
	r.startNetctl()
	r.waitFor("vendor reset while registering", 180*time.Second, func() (bool, string) {
		st := r.status()
		return st.Modem.Resets >= 2 && indexOf(sim.commands(), "AT^RESET") >= 0,
			fmt.Sprintf("resets %d state %s %q", st.Modem.Resets, st.Modem.State, st.Modem.Error)
	})
	if st := r.status(); st.Modem.State != netctl.ModemRegistering && st.Modem.State != netctl.ModemOpening {
		t.Errorf("state %s after the resets, want registering", st.Modem.State)
	}
}

// TestNamespaceModemHangShownAndCounted: a hung modem is shown as "not
// responding" (not connected, not a SIM fault); the engine's vendor reset
// that brings it back is counted in resets, and the link comes back.
func TestNamespaceModemHangShownAndCounted(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"huawei-me909s", "quectel-ec25", "dell-dw5550"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("hg%d", i))
			sim := r.startOnline("LTE up", profile)
			sim.control("hang on")
			r.waitFor("not responding shown", 60*time.Second, func() (bool, string) {
				st := r.status()
				return st.Modem.State == netctl.ModemNotResponding && !strings.Contains(st.Modem.Error, "/dev/"),
					fmt.Sprintf("%s %q", st.Modem.State, st.Modem.Error)
			})
			r.waitFor("vendor reset tried", 120*time.Second, func() (bool, string) {
				return strings.Contains(r.log.String(), "step=reset"), "no reset step in the log"
			})
			sim.control("hang off")
			r.waitOnline("LTE back after the hang", 120*time.Second)
			r.waitFor("the engine's vendor reset counted", 60*time.Second, func() (bool, string) {
				st := r.status()
				return st.Modem.Resets >= 1, fmt.Sprintf("resets %d", st.Modem.Resets)
			})
		})
	}
}

// TestNamespaceModemPINOnceAndAttempts: a wrong PIN shows the attempts the
// card has left (read again after the attempt); the right PIN, given by a
// reload, is sent exactly once even on a DW5550 whose +CPIN? still says
// SIM PIN for a moment after accepting it.
func TestNamespaceModemPINOnceAndAttempts(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"dell-dw5550", "huawei-me909s", "quectel-ec25"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("pn%d", i))
			r.setCarrier("ltep", false)
			r.startDNSMasq("ltep", lteNet)
			sim := r.startModemsim(profile, "1234")
			cfg := modemConfig(sim.pty, profile)
			cfg["network"].(map[string]any)["modem"].(map[string]any)["pin"] = "9999"
			r.writeConfig(cfg)
			r.startNetctl()
			r.waitFor("wrong PIN with 2 attempts left", 60*time.Second, func() (bool, string) {
				st := r.status()
				return st.Modem.State == netctl.ModemSIM && st.Modem.SIM != nil && st.Modem.SIM.PINAttempts == 2 &&
						strings.Contains(st.Modem.Error, "2 attempts left"),
					fmt.Sprintf("%s %q %+v", st.Modem.State, st.Modem.Error, st.Modem.SIM)
			})
			cfg["network"].(map[string]any)["modem"].(map[string]any)["pin"] = "1234"
			r.writeConfig(cfg)
			r.proc.Process.Signal(sighup)
			r.waitOnline("LTE up after the right PIN", 90*time.Second)
			if n := countPrefix(sim.commands(), `AT+CPIN="1234"`); n != 1 {
				t.Errorf("right PIN sent %d times, want once", n)
			}
			if strings.Contains(r.log.String(), "operation not allowed") {
				t.Errorf("the PIN was refused as not allowed (sent twice?)")
			}
		})
	}
}

// TestNamespaceModemProbedEricsson: a DW5550 on a configured port without
// a profile. Its boot line *EMRDY: 1 waits in the port when netctl opens
// it; probing must not take it for a reply: the card is identified as a
// DW5550 (not "generic" with model "Dell Inc."), its radio (CFUN 4 at
// boot) is switched on and it comes online.
func TestNamespaceModemProbedEricsson(t *testing.T) {
	t.Parallel()
	r := newRig(t, "pe")
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs("dell-dw5550", "", "--boot-urc-first", "--answer-delay", "30ms")
	r.writeConfig(modemConfig(sim.pty, ""))
	r.startNetctl()
	r.waitOnline("LTE up", 90*time.Second)
	st := r.status()
	if st.Modem.Profile != "dell-dw5550" || st.Modem.Identity == nil || st.Modem.Identity.Manufacturer != "Dell Inc." || st.Modem.Identity.Model != "DW5550" {
		t.Errorf("profile %q identity %+v", st.Modem.Profile, st.Modem.Identity)
	}
}

// TestNamespaceModemRejectCause: the network refuses the APN (cause 27).
// Every profile's call-status indication with a cause ends the attempt at
// once and the cause shows in words, in one sentence without a tty path;
// the cause stays shown between retries; the right APN (a reload) brings
// the link up.
func TestNamespaceModemRejectCause(t *testing.T) {
	t.Parallel()
	for i, profile := range []string{"huawei-me909s", "dell-dw5550", "quectel-ec25", "generic"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, fmt.Sprintf("rc%d", i))
			r.setCarrier("ltep", false)
			r.startDNSMasq("ltep", lteNet)
			sim := r.startModemsimArgs(profile, "", "--accept-apn", "right.apn")
			cfg := modemConfig(sim.pty, profile)
			r.writeConfig(cfg)
			r.startNetctl()
			r.waitFor("the cause shown", 150*time.Second, func() (bool, string) {
				st := r.status()
				e := st.Modem.Error
				return st.Modem.State == netctl.ModemConnecting && strings.Contains(e, "missing or unknown APN"),
					fmt.Sprintf("%s %q", st.Modem.State, e)
			})
			// Kept through the retries, in one sentence.
			for n := 0; n < 20; n++ {
				e := r.status().Modem.Error
				if !strings.Contains(e, "missing or unknown APN") || strings.Contains(e, "/dev/") || strings.Count(e, "connect: ") > 0 || strings.Contains(e, "deadline") {
					t.Fatalf("poll %d: error %q", n, e)
				}
				time.Sleep(100 * time.Millisecond)
			}
			// The refusal ended each attempt: no minute of polling.
			if cmds := sim.commands(); countPrefix(cmds, "AT+QNETDEVCTL?") > 2*countPrefix(cmds, "AT+QNETDEVCTL=1") {
				t.Errorf("EC25 polled +QNETDEVCTL? %d times for %d dials", countPrefix(cmds, "AT+QNETDEVCTL?"), countPrefix(cmds, "AT+QNETDEVCTL=1"))
			}
			cfg["network"].(map[string]any)["modem"].(map[string]any)["apn"] = "right.apn"
			r.writeConfig(cfg)
			r.proc.Process.Signal(sighup)
			r.waitOnline("LTE up with the right APN", 90*time.Second)
			if e := r.status().Modem.Error; e != "" {
				t.Errorf("cause still shown once connected: %q", e)
			}
		})
	}
}

// TestNamespaceModemATPassthrough: the AT passthrough (issue 15 item 9)
// refuses, without the unsafe flag, commands that dial, send SMS, forward
// calls or change the radio, however disguised, and none reaches the
// modem; PINs never show in the log, wherever they are in the line; every
// passthrough is audited; replies carry no unrelated URC.
func TestNamespaceModemATPassthrough(t *testing.T) {
	t.Parallel()
	r := newRig(t, "at")
	sim := r.startOnline("LTE up", "huawei-me909s")
	ctx := context.Background()
	for _, c := range []string{"AT;+CFUN=0", "at + cfun = 0", "ATE0D*99#", "ATD0019005550100;", "AT+CMGS=20",
		`AT+CCFC=0,3,"+4915550100"`, `AT+CGDCONT=1,"IP","evil.apn"`, `AT;+CPIN="9731"`, `AT+CLCK="SC",1,"9731"`} {
		if _, err := r.client.AT(ctx, c); err == nil {
			t.Errorf("%q accepted without the unsafe flag", c)
		}
	}
	for _, c := range sim.commands() {
		u := strings.ToUpper(strings.ReplaceAll(c, " ", ""))
		if strings.Contains(u, "CFUN=0") || strings.Contains(u, "CCFC") || strings.Contains(u, "D*99") || strings.Contains(u, "CMGS=20") || strings.Contains(u, "EVIL") || strings.Contains(u, "CLCK") {
			t.Errorf("refused command reached the modem: %q", c)
		}
	}
	if c := sim.cfun(); c != 1 {
		t.Errorf("radio switched off through the passthrough (CFUN %d)", c)
	}
	// With the flag it goes through (the SIM refuses a PIN it does not
	// need): the PIN is still not logged.
	if _, err := r.client.ATRequest(ctx, netctl.ATRequest{Command: `AT+CSQ;+CPIN="8642"`, Unsafe: true}); err == nil {
		t.Errorf("a PIN to a ready SIM: no error")
	}
	if indexOf(sim.commands(), `AT+CSQ;+CPIN="8642"`) < 0 {
		t.Errorf("unsafe command not sent with the flag")
	}
	log := r.log.String()
	if strings.Contains(log, "9731") || strings.Contains(log, "8642") {
		t.Errorf("a PIN is in netctl's log")
	}
	if n := strings.Count(log, "AT passthrough"); n < 10 {
		t.Errorf("%d passthrough audit lines for 11 commands", n)
	}
	sim.control("urc-in-response +CGEV: ME PDN ACT 1")
	at, err := r.client.AT(ctx, "AT+CGMM")
	if err != nil || strings.Contains(strings.Join(at.Lines, "\n"), "CGEV") || !strings.Contains(strings.Join(at.Lines, "\n"), "ME909") {
		t.Errorf("AT+CGMM: %q %v", at.Lines, err)
	}
}

// TestNamespaceModemCharsetRestored: an admin switches the character set
// to UCS2 through the passthrough. The engine owns its settings: it sets
// them again, so the DW5550's next dial (APN as a plain string) works
// after a network drop instead of failing with +CME ERROR: 50 for good.
func TestNamespaceModemCharsetRestored(t *testing.T) {
	t.Parallel()
	r := newRig(t, "cs")
	sim := r.startOnline("LTE up", "dell-dw5550")
	ctx := context.Background()
	if _, err := r.client.AT(ctx, `AT+CSCS="UCS2"`); err != nil {
		t.Fatal(err)
	}
	at, err := r.client.AT(ctx, "AT+CSCS?")
	if err != nil || !strings.Contains(strings.Join(at.Lines, " "), `"GSM"`) {
		t.Errorf("character set after the passthrough: %q %v", at.Lines, err)
	}
	dials := countPrefix(sim.commands(), "AT*ENAP=1")
	sim.control("drop")
	r.waitFor("redialled after the drop", 90*time.Second, func() (bool, string) {
		st := r.status()
		return countPrefix(sim.commands(), "AT*ENAP=1") > dials && st.Modem.State == netctl.ModemConnected && uplink(st, "modem").Active,
			fmt.Sprintf("%s %q", st.Modem.State, st.Modem.Error)
	})
}

// TestNamespaceModemEC25NoSpuriousRedial: after a network drop the EC25
// redials once; its "up" indication (+QNETDEVSTATUS: 1,1,"IPV4") must not
// be taken for a drop that redials a working link.
func TestNamespaceModemEC25NoSpuriousRedial(t *testing.T) {
	t.Parallel()
	r := newRig(t, "ec")
	sim := r.startOnline("LTE up", "quectel-ec25")
	time.Sleep(3 * time.Second) // give a spurious redial the chance to happen
	dials := countPrefix(sim.commands(), "AT+QNETDEVCTL=1")
	if dials != 1 {
		t.Errorf("%d dials for one connection", dials)
	}
	sim.control("drop")
	r.waitFor("redialled after the drop", 60*time.Second, func() (bool, string) {
		st := r.status()
		return countPrefix(sim.commands(), "AT+QNETDEVCTL=1") > dials && st.Modem.State == netctl.ModemConnected, st.Modem.State
	})
	r.waitOnline("LTE back", 60*time.Second)
	time.Sleep(3 * time.Second)
	if n := countPrefix(sim.commands(), "AT+QNETDEVCTL=1"); n != dials+1 {
		t.Errorf("%d dials after one drop, want %d", n, dials+1)
	}
}

// TestNamespaceModemNotHealthyWhileRegistering: a data interface that has
// a link and a lease whatever the modem does (QEMU's usb-net) must not
// make the status say "healthy" while the modem is not registered.
func TestNamespaceModemNotHealthyWhileRegistering(t *testing.T) {
	t.Parallel()
	r := newRig(t, "nh")
	r.setCarrier("ltep", true)
	r.startDNSMasq("ltep", lteNet)
	// --netdev "": the simulator leaves the veth's link alone.
	sim := r.startModemsimArgs("huawei-me909s", "", "--netdev", "")
	sim.control("reg searching")
	r.writeConfig(modemConfig(sim.pty, "huawei-me909s"))
	r.startNetctl()
	r.waitFor("a lease on lte0 while registering", 60*time.Second, func() (bool, string) {
		st := r.status()
		u := uplink(st, "modem")
		return st.Modem.State == netctl.ModemRegistering && u.Address != "", fmt.Sprintf("%s %s %q", st.Modem.State, u.State, u.Address)
	})
	for n := 0; n < 30; n++ { // 3 s of polls
		st := r.status()
		if u := uplink(st, "modem"); u.State == "healthy" || u.Active || st.Active == "modem" {
			t.Fatalf("modem uplink %s (active %v) while the modem is %s", u.State, u.Active, st.Modem.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sim.control("reg home")
	r.waitOnline("LTE up once registered", 90*time.Second)
}

// TestNamespaceModemOperatorAfterFlap: registration URCs carry no
// operator; after the network flaps (searching, then home again) the
// operator is read again instead of disappearing from the status.
func TestNamespaceModemOperatorAfterFlap(t *testing.T) {
	t.Parallel()
	r := newRig(t, "of")
	sim := r.startOnline("LTE up", "huawei-me909s")
	sim.control("urc +CEREG: 2")
	r.waitFor("searching seen", 30*time.Second, func() (bool, string) {
		reg := r.status().Modem.Registration
		return reg != nil && reg.State == "searching", fmt.Sprintf("%+v", reg)
	})
	sim.control(`urc +CEREG: 1,"00C3","0000A13F",7`)
	r.waitFor("operator back after the flap", 30*time.Second, func() (bool, string) {
		reg := r.status().Modem.Registration
		return reg != nil && reg.State.Registered() && reg.Operator == "Telekom.de", fmt.Sprintf("%+v", reg)
	})
}

// The field matrix (issue 16): every modem profile with a network
// interface through what a card meets in the field, one after another on
// one rig: the box comes back by itself, or shows the right cause and
// comes back once the installer fixed it. The Sierra MC8775 (PPP only)
// is left out: this kernel has no PPP.
var fieldProfiles = []string{"huawei-mu609", "huawei-me909u", "huawei-me909s", "ericsson-f5521gw", "dell-dw5550", "quectel-ec25", "generic"}

// fieldCells are the scenarios, in the order they run.
var fieldCells = []string{"cold start", "network drop", "modem reboot", "SIM out/in", "hang", "netctl restart", "wrong APN", "wrong PIN then right PIN"}

// dialCommand is the profile's connect command (to count redials).
func dialCommand(profile string) string {
	switch {
	case strings.HasPrefix(profile, "huawei"):
		return "AT^NDISDUP=1,1"
	case profile == "ericsson-f5521gw" || profile == "dell-dw5550":
		return "AT*ENAP=1"
	case profile == "quectel-ec25":
		return "AT+QNETDEVCTL=1"
	}
	return "AT+CGACT=1"
}

// fieldDay runs every cell on a fresh rig and returns the time from the
// fault (or the fix) to the box being online again, per cell.
func fieldDay(t testing.TB, tag, profile string) map[string]time.Duration {
	r := newRig(t, tag)
	r.setCarrier("ltep", false)
	r.startDNSMasq("ltep", lteNet)
	sim := r.startModemsimArgs(profile, "1234", "--accept-apn", "internet.test")
	cfg := modemConfig(sim.pty, profile)
	modemCfg := cfg["network"].(map[string]any)["modem"].(map[string]any)
	modemCfg["pin"] = "1234"
	r.writeConfig(cfg)
	reload := func() {
		r.writeConfig(cfg)
		r.proc.Process.Signal(sighup)
	}
	dial := dialCommand(profile)
	took := map[string]time.Duration{}
	online := func(cell string, start time.Time) {
		r.waitOnline(cell+": back online", 180*time.Second)
		took[cell] = time.Since(start)
	}
	state := func(what string, ok func(netctl.ModemStatus) bool) {
		r.waitFor(what, 120*time.Second, func() (bool, string) {
			st := r.status()
			return ok(*st.Modem), fmt.Sprintf("%s %q", st.Modem.State, st.Modem.Error)
		})
	}

	start := time.Now()
	r.startNetctl()
	online("cold start", start)

	dials := countPrefix(sim.commands(), dial)
	start = time.Now()
	sim.control("drop")
	r.waitFor("network drop: redialled", 120*time.Second, func() (bool, string) {
		return countPrefix(sim.commands(), dial) > dials, "no new dial"
	})
	online("network drop", start)

	dials = countPrefix(sim.commands(), dial)
	start = time.Now()
	sim.control("reboot")
	r.waitFor("modem reboot: redialled", 120*time.Second, func() (bool, string) {
		return countPrefix(sim.commands(), dial) > dials, "no new dial"
	})
	online("modem reboot", start)

	start = time.Now()
	sim.control("sim remove")
	state("SIM out shown", func(m netctl.ModemStatus) bool {
		return m.State == netctl.ModemSIM && strings.Contains(m.Error, "no SIM")
	})
	sim.control("sim insert")
	online("SIM out/in", start)

	start = time.Now()
	sim.control("hang on")
	state("hang shown", func(m netctl.ModemStatus) bool { return m.State == netctl.ModemNotResponding })
	sim.control("hang off")
	online("hang", start)

	r.stopNetctl()
	start = time.Now()
	r.startNetctl()
	online("netctl restart", start)

	modemCfg["apn"] = "wrong.apn"
	reload()
	state("wrong APN shown", func(m netctl.ModemStatus) bool {
		return m.State == netctl.ModemConnecting && strings.Contains(m.Error, "missing or unknown APN") && !strings.Contains(m.Error, "/dev/")
	})
	start = time.Now()
	modemCfg["apn"] = "internet.test"
	reload()
	online("wrong APN", start)

	// The reload redials (reconfig); only then is the SIM locked, so the
	// old, right PIN is not what unlocks it.
	dials = countPrefix(sim.commands(), dial)
	modemCfg["pin"] = "9999"
	reload()
	r.waitFor("the reload applied (redial)", 60*time.Second, func() (bool, string) {
		return countPrefix(sim.commands(), dial) > dials, "no redial after the reload"
	})
	sim.control("pin require 1234")
	state("wrong PIN shown", func(m netctl.ModemStatus) bool {
		return m.State == netctl.ModemSIM && strings.Contains(m.Error, "rejected") && m.SIM != nil && m.SIM.PINAttempts == 2
	})
	rightPIN := countPrefix(sim.commands(), `AT+CPIN="1234"`)
	start = time.Now()
	modemCfg["pin"] = "1234"
	reload()
	online("wrong PIN then right PIN", start)
	if n := countPrefix(sim.commands(), `AT+CPIN="1234"`) - rightPIN; n != 1 {
		t.Errorf("right PIN sent %d times for one unlock", n)
	}
	if n := countPrefix(sim.commands(), `AT+CPIN="9999"`); n != 1 {
		t.Errorf("wrong PIN sent %d times", n)
	}
	return took
}

// TestNamespaceModemFieldMatrix runs the field day for every profile.
func TestNamespaceModemFieldMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the field matrix takes minutes")
	}
	t.Parallel()
	for i, profile := range fieldProfiles {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			took := fieldDay(t, fmt.Sprintf("fm%d", i), profile)
			for _, c := range fieldCells {
				t.Logf("%-26s %v", c, took[c].Round(100*time.Millisecond))
			}
		})
	}
}

// BenchmarkModemFieldMatrix prints the time to online for every profile
// and cell (the fault or the fix until the modem uplink carries the
// default route again). Times are printed, never judged.
func BenchmarkModemFieldMatrix(b *testing.B) {
	for i := 0; i < b.N; i++ {
		for j, profile := range fieldProfiles {
			took := fieldDay(b, fmt.Sprintf("f%d%d", i%10, j), profile)
			for _, c := range fieldCells {
				// Printed, not logged: benchmark logs are cut after ten lines.
				fmt.Printf("field matrix: %-18s %-26s %6.1f s to online\n", profile, c, took[c].Seconds())
			}
		}
	}
}
