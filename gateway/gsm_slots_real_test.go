package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/api/netapi"
	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// Per SIM, per slot (issue 19 item 5): the real netctl drives two
// modemsim processes, the data modem in slot mpcie1 (Quectel EC25, SIM
// +4915100000001) and a voice-only modem in mpcie2
// (network.modem.voice_modems; Huawei ME909s, SIM +4915100000002), each
// with its own PCM port. The gateway has a SIM for each slot with its own
// inbound destination, identity and allow-lists.

const (
	gsmSIM1Num = "+4915100000001"
	gsmSIM2Num = "+4915100000002"
)

// startModemsimProc starts modemsim (a card) with its control socket
// ctl and PCM port audio, and returns its pty.
func startModemsimProc(t *testing.T, bin, ctl, audio, profile string, extra ...string) (pty string, proc *testenv.Proc) {
	t.Helper()
	sim := testenv.Command(t, bin, append([]string{"--pty", "--profile", profile, "--control", ctl, "--audio", audio}, extra...)...)
	out, err := sim.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sim.Cmd.Stderr = sim.Log
	sim.Start()
	ptyc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			ptyc <- strings.TrimSpace(sc.Text())
		}
		for sc.Scan() {
		}
	}()
	select {
	case pty = <-ptyc:
	case <-time.After(10 * time.Second):
		t.Fatal("modemsim printed no pty path")
	}
	return pty, sim
}

// startNetctlProc runs cmd/netctl in a namespace of its own with the
// network section network, its socket and state in dir; the gateway
// process startGatewayIn starts for t finds it there (EDGEBOX_RUN_DIR,
// set for that process: setRunDir). On failure the logs of
// netctl and of the cards sims are printed.
func startNetctlProc(t *testing.T, bin, dir, tag string, network map[string]any, sims ...*testenv.Proc) netapi.Client {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"version": 1, "network": network})
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ns := testenv.NewNetns(t, testenv.UniqueName(tag))
	sock := filepath.Join(dir, "netctl.sock")
	nc := ns.Command(bin, "--config", cfgPath, "--socket", sock, "--sms-dir", filepath.Join(dir, "sms"), "--resolv-conf", filepath.Join(dir, "resolv.conf"))
	nc.Cmd.Env = append(os.Environ(), "EDGEBOX_RUN_DIR="+dir, "EDGEBOX_PERM_DIR="+dir)
	nc.Start()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("netctl log (tail):\n%s", testenv.Tail(nc.Log.String(), 6000))
			for i, s := range sims {
				t.Logf("modemsim %d log (tail):\n%s", i+1, testenv.Tail(s.Log.String(), 2000))
			}
		}
	})
	setRunDir(t, dir) // the gateway's netctl client
	return netapi.NewClientPath(sock)
}

// runDirs is the netctl run directory (EDGEBOX_RUN_DIR, where the
// gateway's netctl client finds the socket) of each test that started a
// netctl, by test name. startGatewayIn passes it to the gateway process
// it starts, so tests with netctls of their own may run in parallel: the
// variable is set for that process alone, never in this one.
var runDirs sync.Map // test name -> dir

// setRunDir makes dir the run directory of t's (and t's subtests')
// gateway processes until t ends; a later call (the next box of a fleet)
// replaces it for the gateways started after it.
func setRunDir(t *testing.T, dir string) {
	runDirs.Store(t.Name(), dir)
	t.Cleanup(func() { runDirs.Delete(t.Name()) })
}

// runDirEnv is the EDGEBOX_RUN_DIR setting for a gateway process of t:
// the run directory of t or of its nearest parent that set one, or none.
func runDirEnv(t *testing.T) []string {
	for name := t.Name(); ; {
		if dir, ok := runDirs.Load(name); ok {
			return []string{"EDGEBOX_RUN_DIR=" + dir.(string)}
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return nil
		}
		name = name[:i]
	}
}

// modemNetwork is a network section with the data modem on pty (profile,
// PCM port audio) and LTE its only uplink; the interface never appears,
// which the GSM side does not need.
func modemNetwork(pty, profile, audio string) map[string]any {
	return map[string]any{
		"lan": []any{},
		"wan": map[string]any{"enabled": false, "method": "dhcp"},
		"modem": map[string]any{"enabled": true, "port": pty, "profile": profile, "interface": "lte0", "method": "dhcp", "apn": "internet.test",
			"reset_after_sec": 0, "audio_port": audio},
		"uplinks": []any{"modem"},
	}
}

// startRealVoicePair is startRealVoice with two modems: the SIMs in slot
// mpcie1 (data modem) and mpcie2 (voice modem); unplug2 pulls the second
// card (its port's node goes away, its modemsim exits).
func startRealVoicePair(t *testing.T) (sim1, sim2 *realVoice, unplug2 func()) {
	t.Helper()
	testenv.RequireRoot(t, "ip")
	netctlBin, simBin := smsBinaries(t)
	dir := t.TempDir()
	ctl1, audio1, ctl2, audio2 := filepath.Join(dir, "sim1.ctl"), filepath.Join(dir, "sim1-pcm.sock"), filepath.Join(dir, "sim2.ctl"), filepath.Join(dir, "sim2-pcm.sock")
	pty1, proc1 := startModemsimProc(t, simBin, ctl1, audio1, "quectel-ec25", "--number", gsmSIM1Num)
	pty2, proc2 := startModemsimProc(t, simBin, ctl2, audio2, "huawei-me909s", "--number", gsmSIM2Num)
	// netctl reaches the second card through a link of the test's own, as
	// through a USB serial device's node: unplugging removes the link
	// first, so netctl's reopening finds nothing. The pty's own name
	// (/dev/pts/N) is free again once modemsim exits, and the next pty
	// any process opens (another test's modemsim) may get it. The link
	// lives under /dev/shm: a modem port must be under /dev.
	devDir, err := os.MkdirTemp("/dev/shm", "edgebox-test-modem-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(devDir) })
	port2 := filepath.Join(devDir, "ttyUSB-sim2")
	if err := os.Symlink(pty2, port2); err != nil {
		t.Fatal(err)
	}
	network := modemNetwork(pty1, "quectel-ec25", audio1)
	m := network["modem"].(map[string]any)
	m["slot"] = "mpcie1"
	m["voice_modems"] = []any{map[string]any{"slot": "mpcie2", "port": port2, "profile": "huawei-me909s", "audio_port": audio2}}
	api := startNetctlProc(t, netctlBin, dir, "gwslots", network, proc1, proc2)
	err = testenv.Until(60*time.Second, "both SIMs with voice set up", func() (bool, error) {
		st, err := api.GSMStatus(context.Background())
		ok := err == nil && len(st.SIMs) == 2
		for _, s := range st.SIMs {
			ok = ok && s.Voice && s.Registered && s.Number != ""
		}
		return ok, nil
	})
	if err != nil {
		st, e := api.GSMStatus(context.Background())
		t.Fatalf("%v (last status %+v %v)", err, st, e)
	}
	return &realVoice{&realNetctl{t: t, ctl: ctl1, api: api}}, &realVoice{&realNetctl{t: t, ctl: ctl2, api: api}}, func() {
		os.Remove(port2)
		proc2.Stop(2 * time.Second)
	}
}

// perSIMRig is the box in its namespace with two SIMs behind the real
// netctl, and the PBX's namespace: SIPp there, or Kamailio at the PBX's
// address with SIPp behind it on port 5070 (kam set).
type perSIMRig struct {
	sim1, sim2 *realVoice
	unplug2    func()
	api        gateway.Client
	pbx        string
	kam        *testenv.KamailioServer
}

func newPerSIMRig(t *testing.T, kam *testenv.KamailioOptions) *perSIMRig {
	t.Helper()
	rig := newNetnsRig(t, "gsm2")
	box, pbx := rig.ns("box"), rig.ns("pbx")
	rig.link(box, "eth0", gsmBoxIP+"/24", pbx, "eth0", gsmPBXIP+"/24")
	rig.ip("-n", pbx, "addr", "add", gsmPBX2IP+"/24", "dev", "eth0")
	r := &perSIMRig{pbx: pbx}
	r.sim1, r.sim2, r.unplug2 = startRealVoicePair(t)
	cfg := testConfig(t, gsmPBXIP+":5070")
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: gsmBoxIP + ":5060"}}
	cfg.PBX.AllowedSources = []string{gsmPBXIP, gsmPBX2IP}
	cfg.Media.RTPAddress = gsmBoxIP
	cfg.GSM = config.GatewayGSM{Enabled: true, Domain: gsmDomain, StoreDir: t.TempDir(), RetrySec: 1, SIMs: []config.GSMSIM{{
		Slot: "1", Number: gsmSIM1Num, CountryCode: "49",
		Voice: config.GSMVoice{Inbound: "sip:gsm-in1@" + gsmPBXIP, Allow: []string{"+4930*"}, RingSec: 20},
		SMS:   config.GSMSMS{MessageURI: "sip:sms1@" + gsmPBXIP, Allow: []string{"+4915*"}, RatePerMinute: 600, Burst: 20},
	}, {
		Slot: "mpcie2", Number: gsmSIM2Num, CountryCode: "49",
		Voice: config.GSMVoice{Inbound: "sip:gsm-in2@" + gsmPBXIP, Allow: []string{"+4930*", "+4940*"}, RingSec: 20},
		SMS:   config.GSMSMS{MessageURI: "sip:sms2@" + gsmPBXIP, Allow: []string{"+4917*"}, RatePerMinute: 600, Burst: 20},
	}}}
	if kam != nil {
		ko := *kam
		ko.Host = gsmPBXIP
		r.kam = testenv.Kamailio(t, rig.netns(pbx), ko)
		cfg.PBX.Address = r.kam.Addr()
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", pbxUsers["trunkuser"]
	}
	r.api = startGatewayIn(t, box, cfg)
	return r
}

// TestGSMPerSIM: calls into each SIM reach the PBX at that SIM's
// destination with its identity in To; the PBX's calls and SMS go out on
// the SIM whose allow-list permits them; with SIM 1 busy the next call
// goes out on SIM 2; SIM 2's card hung, or pulled out, does not disturb a
// call on SIM 1.
func TestGSMPerSIM(t *testing.T) {
	t.Parallel()
	r := newPerSIMRig(t, nil)
	sim1, sim2, unplug2, api, pbx := r.sim1, r.sim2, r.unplug2, r.api, r.pbx
	dial := func(t *testing.T, ip, number string) *sipp {
		return startSIPpAt(t, pbx, ip, "uac_gsm_out", 1, "-trace_logs", "-s", number, gsmBoxIP+":5060")
	}
	idle := func(t *testing.T) {
		t.Helper()
		waitFor(t, 15*time.Second, "both cards and the box idle", func() bool {
			calls, err := api.GSMCalls(context.Background())
			return sim1.live() == 0 && sim2.live() == 0 && err == nil && len(calls.Active) == 0
		})
	}
	lastDialed := func(r *realVoice) string {
		d := r.dialed()
		if len(d) == 0 {
			return ""
		}
		return d[len(d)-1]
	}

	t.Run("inbound per SIM", func(t *testing.T) {
		for _, tc := range []struct {
			sim          *realVoice
			ruri, to, sl string
		}{
			{sim2, "sip:gsm-in2@" + gsmPBXIP, gsmSIM2Num, "mpcie2"},
			{sim1, "sip:gsm-in1@" + gsmPBXIP, gsmSIM1Num, "1"},
		} {
			s := startSIPpAt(t, pbx, gsmPBXIP, "uas_gsm_in_slot", 1, "-trace_logs")
			tc.sim.call("+4930555123")
			s.wait(t, 20*time.Second)
			idle(t)
			log := sippLog(s)
			if got := logValue(log, "RURI"); got != tc.ruri {
				t.Errorf("a call into SIM %s reached %q, want its destination %s", tc.sl, got, tc.ruri)
			}
			if got := logValue(log, "TO"); !strings.Contains(got, "<sip:"+tc.to+"@"+gsmDomain+">") {
				t.Errorf("a call into SIM %s had To %q, want its identity %s", tc.sl, got, tc.to)
			}
			if got := logValue(log, "SLOT"); got != tc.sl {
				t.Errorf("X-GSM-Slot %q, want %q", got, tc.sl)
			}
			if got := logValue(log, "FROM"); !strings.HasPrefix(got, "<sip:+4930555123@") {
				t.Errorf("From %q, want the caller", got)
			}
		}
	})

	t.Run("outbound on the SIM that allows it", func(t *testing.T) {
		n1 := len(sim1.dialed())
		s := dial(t, gsmPBXIP, "+4940123456") // SIM 2's allow-list alone
		s.wait(t, 20*time.Second)
		if got := logValue(sippLog(s), "FINAL"); got != "200" {
			t.Fatalf("+4940 call: %s (%s)", got, logValue(sippLog(s), "REASON"))
		}
		if lastDialed(sim2) != "+4940123456" || len(sim1.dialed()) != n1 {
			t.Errorf("SIM 1 dialled %v, SIM 2 %v; want +4940123456 on SIM 2 only", sim1.dialed()[n1:], sim2.dialed())
		}
		idle(t)
		s = dial(t, gsmPBXIP, "+33123456789") // neither SIM's
		s.wait(t, 10*time.Second)
		if got := logValue(sippLog(s), "FINAL"); got != "403" {
			t.Errorf("a number no SIM allows: %s, want 403", got)
		}
	})

	t.Run("the PBX names the SIM", func(t *testing.T) {
		// X-GSM-Slot on the INVITE, as on a MESSAGE: both SIMs allow
		// +4930, the first would take it unnamed
		b, err := os.ReadFile(filepath.Join("testdata", "sipp", "uac_gsm_out.xml"))
		if err != nil {
			t.Fatal(err)
		}
		dialSlot := func(number, slot string) *sipp {
			f := filepath.Join(t.TempDir(), "uac_gsm_out_slot.xml")
			sc := strings.Replace(string(b), "User-Agent: pbx-test", "User-Agent: pbx-test\n      X-GSM-Slot: "+slot, 1)
			if err := os.WriteFile(f, []byte(sc), 0o644); err != nil {
				t.Fatal(err)
			}
			return startSIPpAt(t, pbx, gsmPBXIP, f, 1, "-trace_logs", "-s", number, gsmBoxIP+":5060")
		}
		n1 := len(sim1.dialed())
		s := dialSlot("+49305550001", "2")
		s.wait(t, 20*time.Second)
		if got := logValue(sippLog(s), "FINAL"); got != "200" {
			t.Fatalf("a call naming slot 2: %s (%s)", got, logValue(sippLog(s), "REASON"))
		}
		if lastDialed(sim2) != "+49305550001" || len(sim1.dialed()) != n1 {
			t.Errorf("SIM 1 dialled %v, SIM 2 last %q; want +49305550001 on SIM 2 only", sim1.dialed()[n1:], lastDialed(sim2))
		}
		idle(t)
		s = dialSlot("+49305550002", "7")
		s.wait(t, 10*time.Second)
		if got := logValue(sippLog(s), "FINAL"); got != "404" || !strings.Contains(logValue(sippLog(s), "REASON"), "not in gateway.gsm.sims") {
			t.Errorf("a call naming slot 7: %s (%s), want 404 saying the slot is not configured", got, logValue(sippLog(s), "REASON"))
		}
		if len(sim1.dialed()) != n1 {
			t.Errorf("a call naming an unknown slot was dialled on SIM 1")
		}
	})

	t.Run("SIM 1 busy: the next call on SIM 2", func(t *testing.T) {
		first := dial(t, gsmPBXIP, "+49301111111")
		waitFor(t, 10*time.Second, "the first call up on SIM 1", func() bool { return sim1.live() == 1 })
		second := dial(t, gsmPBX2IP, "+49302222222")
		second.wait(t, 20*time.Second)
		first.wait(t, 20*time.Second)
		for _, s := range []*sipp{first, second} {
			if got := logValue(sippLog(s), "FINAL"); got != "200" {
				t.Errorf("call got %s (%s), want 200", got, logValue(sippLog(s), "REASON"))
			}
		}
		if lastDialed(sim1) != "+49301111111" || lastDialed(sim2) != "+49302222222" {
			t.Errorf("SIM 1 last dialled %q, SIM 2 %q", lastDialed(sim1), lastDialed(sim2))
		}
		idle(t)
		// SIM 1: this first call; SIM 2: +4940 and the call naming slot 2
		// (above), and the second
		calls, err := api.GSMCalls(context.Background())
		if err != nil || len(calls.SIMs) != 2 || calls.SIMs[0].CallsToday != 1 || calls.SIMs[1].CallsToday != 3 {
			t.Errorf("calls today per SIM: %+v %v", calls.SIMs, err)
		}
	})

	t.Run("SIM 2 hung, SIM 1 talks on", func(t *testing.T) {
		sim2.control("hang on")
		defer sim2.control("hang off")
		s := dial(t, gsmPBXIP, "+49303333333")
		waitFor(t, 15*time.Second, "the call up on SIM 1", func() bool { return sim1.live() == 1 })
		s.wait(t, 20*time.Second)
		if got, bye := logValue(sippLog(s), "FINAL"), logValue(sippLog(s), "BYE"); got != "200" || bye != "pbx" {
			t.Errorf("the call on SIM 1 while SIM 2 hangs: final %s, BYE %s; want 200 and the PBX's hang-up", got, bye)
		}
		if rx, tones := sim1.audio(); tones < 25 {
			t.Errorf("SIM 1 got %d frames of its 1000 Hz back (of %d), want 25 or more", tones, rx)
		}
		if lastDialed(sim1) != "+49303333333" {
			t.Errorf("SIM 1 last dialled %q", lastDialed(sim1))
		}
	})

	t.Run("SMS per SIM", func(t *testing.T) {
		waitFor(t, 90*time.Second, "SIM 2 back after its hang", func() bool {
			st, err := sim2.api.GSMStatus(context.Background())
			return err == nil && len(st.SIMs) == 2 && st.SIMs[1].Registered && st.SIMs[1].Voice
		})
		uas := startSIPpAt(t, pbx, gsmPBXIP, "uas_sms_any_sim", 1)
		sim2.control("sms +4915550001 hallo sim zwei")
		uas.wait(t, 30*time.Second)
		log := sippMessages(uas)
		for _, want := range []string{"MESSAGE sip:sms2@", "To: <sip:" + gsmSIM2Num + "@", "hallo sim zwei"} {
			if !strings.Contains(log, want) {
				t.Errorf("the PBX's MESSAGE from SIM 2 has no %q", want)
			}
		}
		// one text from one sender to both SIMs at once: the cards' PDUs
		// (and so their ids) are the same, the PBX still gets both
		uas = startSIPpAt(t, pbx, gsmPBXIP, "uas_sms_any_sim", 2)
		sim1.control("sms +4915550003 an alle")
		sim2.control("sms +4915550003 an alle")
		uas.wait(t, 30*time.Second)
		log = sippMessages(uas)
		for _, want := range []string{"MESSAGE sip:sms1@", "MESSAGE sip:sms2@", "To: <sip:" + gsmSIM1Num + "@", "To: <sip:" + gsmSIM2Num + "@"} {
			if !strings.Contains(log, want) {
				t.Errorf("the same SMS to both SIMs: no %q at the PBX", want)
			}
		}
		uac := startSIPpAt(t, pbx, gsmPBXIP, "uac_sms_202", 1, "-inf", injection(t, "+4917012345678;nur sim zwei"), gsmBoxIP+":5060")
		uac.wait(t, 20*time.Second)
		waitFor(t, 20*time.Second, "the SMS sent by SIM 2", func() bool { return sim2.sentSMS()["+4917012345678"] != "" })
		if s := sim1.sentSMS(); len(s) != 0 {
			t.Errorf("SIM 1 sent %v; SIM 2's allow-list alone has +4917", s)
		}
		if s := sim2.sentSMS(); len(s) != 1 {
			t.Errorf("SIM 2 sent %v, want the one SMS", s)
		}
	})
	t.Run("SIM 2 unplugged during a call on SIM 1", func(t *testing.T) {
		s := dial(t, gsmPBXIP, "+49304444444")
		waitFor(t, 15*time.Second, "the call up on SIM 1", func() bool { return sim1.live() == 1 })
		unplug2()
		s.wait(t, 20*time.Second)
		if got, bye := logValue(sippLog(s), "FINAL"), logValue(sippLog(s), "BYE"); got != "200" || bye != "pbx" {
			t.Errorf("the call on SIM 1 while SIM 2 was pulled: final %s, BYE %s; want 200 and the PBX's hang-up", got, bye)
		}
		if rx, tones := sim1.audio(); tones < 25 {
			t.Errorf("SIM 1 got %d frames of its 1000 Hz back (of %d), want 25 or more", tones, rx)
		}
		idle1 := func() bool {
			calls, err := api.GSMCalls(context.Background())
			return sim1.live() == 0 && err == nil && len(calls.Active) == 0
		}
		waitFor(t, 15*time.Second, "SIM 1 idle", idle1)
		// a number only SIM 2 may dial now finds no SIM that can
		waitFor(t, 60*time.Second, "netctl seeing SIM 2 gone", func() bool {
			st, err := sim1.api.GSMStatus(context.Background())
			return err == nil && len(st.SIMs) == 2 && !st.SIMs[1].Voice
		})
		s = dial(t, gsmPBXIP, "+4940123457")
		s.wait(t, 10*time.Second)
		if got, why := logValue(sippLog(s), "FINAL"), logValue(sippLog(s), "REASON"); got != "503" || !strings.Contains(why, "SIM mpcie2") {
			t.Errorf("a +4940 call with SIM 2 gone: %s (%s), want 503 naming SIM mpcie2", got, why)
		}
	})
}

// TestGSMPerSIMThroughKamailio: with Kamailio as the PBX (the box's trunk
// registered, its INVITEs authenticated with the trunk's account), a call
// into each SIM is routed by Kamailio on that SIM's inbound URI and
// reaches SIPp with that SIM's identity in To.
func TestGSMPerSIMThroughKamailio(t *testing.T) {
	t.Parallel()
	r := newPerSIMRig(t, &testenv.KamailioOptions{Users: pbxUsers,
		Static: map[string]string{"gsm-in1": gsmPBXIP + ":5070", "gsm-in2": gsmPBXIP + ":5070"}})
	waitFor(t, 15*time.Second, "the trunk registered at Kamailio", func() bool {
		st, err := r.api.Status(context.Background())
		return err == nil && st.Registration == "registered"
	})
	for _, tc := range []struct {
		sim      *realVoice
		user, to string
	}{{r.sim2, "gsm-in2", gsmSIM2Num}, {r.sim1, "gsm-in1", gsmSIM1Num}} {
		s := startSIPpAt(t, r.pbx, gsmPBXIP, "uas_gsm_in_rr", 1, "-trace_logs")
		tc.sim.call("+4930555129")
		waitFor(t, 15*time.Second, "1000 Hz from the card back through SIPp's echo", func() bool {
			_, tones := tc.sim.audio()
			return tones >= 25
		})
		tc.sim.hangup()
		s.wait(t, 15*time.Second)
		waitFor(t, 10*time.Second, "the box idle", func() bool {
			calls, err := r.api.GSMCalls(context.Background())
			return err == nil && len(calls.Active) == 0
		})
		if n := r.kam.Count("TEST-INVITE from=sip:+4930555129@" + gsmDomain + " user=trunkuser to=sip:" + tc.user + "@"); n != 1 {
			t.Errorf("Kamailio saw %d INVITEs to %s authenticated as the trunk, want 1", n, tc.user)
		}
		if to := logValue(sippLog(s), "TO"); !strings.Contains(to, "<sip:"+tc.to+"@"+gsmDomain+">") {
			t.Errorf("To behind Kamailio %q, want %s", to, tc.to)
		}
	}
}
