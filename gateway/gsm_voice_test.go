package gateway_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// The GSM voice bridge end to end (issue 19): the box in a namespace of
// its own running the gateway, SIPp as the PBX in another (UAS echoing
// RTP for calls from the GSM side, UAC dialling out) and as a stranger on
// the PBX's link; behind the box the real netctl with its GSM API driving
// modemsim, whose PCM port plays 1000 Hz and analyses what comes back
// (realVoice, gsm_voice_real_test.go).

// gsmRig is one box, the PBX's namespace and the GSM side.
type gsmRig struct {
	far *realVoice
	pbx string
	api gateway.Client
	kam *testenv.KamailioServer // with gsmRigOptions.kamailio
}

const (
	gsmBoxIP    = "10.77.0.2"
	gsmPBXIP    = "10.77.0.1"
	gsmStranger = "10.77.0.3"
	gsmPBX2IP   = "10.77.0.4"
	gsmSIMNum   = "+4915100000001"
	gsmDomain   = "box.example.com"
)

func newGSMRig(t *testing.T) *gsmRig { t.Helper(); return newGSMRigWith(t, gsmRigOptions{}) }

// gsmRigOptions vary the rig: before runs with the GSM side and the PBX's
// namespace up but no gateway yet; kamailio puts Kamailio at the PBX's
// address (SIPp behind it on port 5070) and registers the box's trunk.
type gsmRigOptions struct {
	before   func(r *gsmRig)
	kamailio *testenv.KamailioOptions
	voice    func(v *config.GSMVoice) // changes the SIM's voice settings
}

func newGSMRigThen(t *testing.T, before func(r *gsmRig)) *gsmRig {
	t.Helper()
	return newGSMRigWith(t, gsmRigOptions{before: before})
}

func newGSMRigWith(t *testing.T, o gsmRigOptions) *gsmRig {
	t.Helper()
	rig := newNetnsRig(t, "gsm")
	box, pbx := rig.ns("box"), rig.ns("pbx")
	rig.link(box, "eth0", gsmBoxIP+"/24", pbx, "eth0", gsmPBXIP+"/24")
	// a stranger on the PBX's link: an address the box takes no
	// requests from (gateway.pbx.allowed_sources is the PBX's alone)
	rig.ip("-n", pbx, "addr", "add", gsmStranger+"/24", "dev", "eth0")
	// and a second address of the PBX's, for a second caller at once
	rig.ip("-n", pbx, "addr", "add", gsmPBX2IP+"/24", "dev", "eth0")
	far := startRealVoice(t)
	cfg := testConfig(t, gsmPBXIP+":5070")
	cfg.SIP.Listen = []config.GatewaySIPListen{{Transport: "udp", Address: gsmBoxIP + ":5060"}}
	cfg.PBX.AllowedSources = []string{gsmPBXIP, gsmPBX2IP}
	cfg.Media.RTPAddress = gsmBoxIP
	cfg.GSM = config.GatewayGSM{Enabled: true, Domain: gsmDomain, StoreDir: t.TempDir(), SIMs: []config.GSMSIM{{
		Slot: "1", CountryCode: "49",
		Voice: config.GSMVoice{Inbound: "sip:gsm-in@" + gsmPBXIP, Allow: []string{"+4930*"}, RingSec: 20},
	}}}
	if o.voice != nil {
		o.voice(&cfg.GSM.SIMs[0].Voice)
	}
	r := &gsmRig{far: far, pbx: pbx}
	if o.kamailio != nil {
		ko := *o.kamailio
		ko.Host = gsmPBXIP
		r.kam = testenv.Kamailio(t, rig.netns(pbx), ko)
		cfg.PBX.Address = r.kam.Addr()
		cfg.Trunk.Register, cfg.Trunk.Username, cfg.Trunk.Password = true, "trunkuser", pbxUsers["trunkuser"]
	}
	if o.before != nil {
		o.before(r)
	}
	r.api = startGatewayIn(t, box, cfg)
	return r
}

// sippLog is what SIPp's scenario logged (-trace_logs).
func sippLog(s *sipp) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(s.logs, "*_logs.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		b.Write(data)
	}
	return b.String()
}

// logValue is the value of KEY=... in a SIPp log ("" when absent).
func logValue(log, key string) string {
	for _, l := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), key+"="); ok {
			return v
		}
	}
	return ""
}

func (r *gsmRig) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, 10*time.Second, "the card holds no call and the box none", func() bool {
		calls, err := r.api.GSMCalls(context.Background())
		return r.far.live() == 0 && err == nil && len(calls.Active) == 0
	})
}

// TestGSMVoiceInbound: calls to the SIM reach the PBX with the caller's
// number kept (and Anonymous when withheld) and the SIM in To; the card
// is answered on the PBX's 200; the card's 1000 Hz comes back through
// SIPp's echo; DTMF from the GSM side goes out as RFC 4733 and (echoed)
// comes back as AT+VTS; hang-up from each side ends the other.
func TestGSMVoiceInbound(t *testing.T) {
	t.Parallel()
	r := newGSMRig(t)
	for _, tc := range []struct {
		name, caller, wantFrom, wantPrivacy string
		scen                                string // the PBX: SIPp's scenario
	}{
		{"number kept, caller hangs up", "+4930555123", "<sip:+4930555123@" + gsmDomain + ">", "", "uas_gsm_in"},
		{"national number, PBX hangs up", "030555124", "<sip:+4930555124@" + gsmDomain + ">", "", "uas_gsm_in_hangup"},
		{"withheld", "withheld", `"Anonymous" <sip:anonymous@anonymous.invalid>`, "id", "uas_gsm_in"},
		{"PBX re-INVITEs, then hangs up", "+4930555126", "<sip:+4930555126@" + gsmDomain + ">", "", "uas_gsm_in_reinvite"},
		{"PBX holds and resumes, then hangs up", "+4930555127", "<sip:+4930555127@" + gsmDomain + ">", "", "uas_gsm_in_hold"},
		{"PBX sends a digit as INFO, then hangs up", "+4930555131", "<sip:+4930555131@" + gsmDomain + ">", "", "uas_gsm_in_info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pbxHangsUp := tc.scen != "uas_gsm_in"
			s := startSIPpAt(t, r.pbx, gsmPBXIP, tc.scen, 1, "-trace_logs")
			vts0 := len(r.far.boxDTMF())
			r.far.call(tc.caller)
			waitFor(t, 10*time.Second, "the call up", func() bool {
				c, err := r.api.GSMCalls(context.Background())
				return err == nil && len(c.Active) == 1 && c.Active[0].State == "connected"
			})
			waitFor(t, 10*time.Second, "1000 Hz from the card back through the PBX's echo", func() bool {
				_, tones := r.far.audio()
				return tones >= 25
			})
			r.far.sendDTMF("7")
			waitFor(t, 5*time.Second, "the GSM side's digit back from the PBX as AT+VTS", func() bool {
				return slices.Contains(r.far.boxDTMF()[vts0:], "7")
			})
			calls, err := r.api.GSMCalls(context.Background())
			if err != nil || len(calls.Active) != 1 || calls.Active[0].State != "connected" || calls.Active[0].Codec != "PCMA" {
				t.Errorf("GET /v1/gsm/calls during the call: %+v %v", calls, err)
			}
			if !pbxHangsUp {
				r.far.hangup()
			}
			s.wait(t, 15*time.Second)
			r.waitIdle(t)
			log := sippLog(s)
			if from := logValue(log, "FROM"); !strings.HasPrefix(from, tc.wantFrom+";tag=") {
				t.Errorf("From at the PBX %q, want %s;tag=...", from, tc.wantFrom)
			}
			if to := logValue(log, "TO"); !strings.Contains(to, "<sip:"+gsmSIMNum+"@"+gsmDomain+">") {
				t.Errorf("To at the PBX %q, want the SIM's number %s", to, gsmSIMNum)
			}
			if p := logValue(log, "PRIVACY"); p != tc.wantPrivacy {
				t.Errorf("Privacy at the PBX %q, want %q", p, tc.wantPrivacy)
			}
			if tc.scen == "uas_gsm_in_info" && !slices.Contains(r.far.boxDTMF()[vts0:], "9") {
				t.Errorf("the PBX's INFO digit 9 did not reach the card as AT+VTS (got %q)", r.far.boxDTMF()[vts0:])
			}
			rx, tones := r.far.audio()
			t.Logf("card: %d frames from the box, %d of them 1000 Hz", rx, tones)
		})
	}
}

// TestGSMVoiceRingingAtStart: a call that rings when the gateway starts
// (a restart while the SIM rang) still reaches the PBX.
func TestGSMVoiceRingingAtStart(t *testing.T) {
	t.Parallel()
	var s *sipp
	r := newGSMRigThen(t, func(r *gsmRig) {
		s = startSIPpAt(t, r.pbx, gsmPBXIP, "uas_gsm_in_hangup", 1, "-trace_logs")
		r.far.call("+4930555128")
		waitFor(t, 10*time.Second, "netctl listing the ringing call", func() bool {
			st, err := r.far.api.GSMStatus(context.Background())
			return err == nil && len(st.Calls) == 1
		})
	})
	s.wait(t, 20*time.Second)
	r.waitIdle(t)
	if from := logValue(sippLog(s), "FROM"); !strings.HasPrefix(from, "<sip:+4930555128@") {
		t.Errorf("From at the PBX %q, want the caller ringing before the gateway started", from)
	}
}

// TestGSMVoiceThroughKamailio: with Kamailio as the PBX (the box's trunk
// registered, INVITEs authenticated with the trunk's account, Kamailio
// routing the queue's URI to SIPp and staying in the dialog), a call to
// the SIM reaches SIPp with the caller's number, audio echoes, and the
// GSM caller's hang-up ends the call through the proxy.
func TestGSMVoiceThroughKamailio(t *testing.T) {
	t.Parallel()
	r := newGSMRigWith(t, gsmRigOptions{kamailio: &testenv.KamailioOptions{Users: pbxUsers, Static: map[string]string{"gsm-in": gsmPBXIP + ":5070"}}})
	waitFor(t, 15*time.Second, "the trunk registered at Kamailio", func() bool {
		st, err := r.api.Status(context.Background())
		return err == nil && st.Registration == "registered"
	})
	s := startSIPpAt(t, r.pbx, gsmPBXIP, "uas_gsm_in_rr", 1, "-trace_logs")
	r.far.call("+4930555129")
	waitFor(t, 15*time.Second, "1000 Hz from the card back through SIPp's echo", func() bool {
		_, tones := r.far.audio()
		return tones >= 25
	})
	r.far.hangup()
	s.wait(t, 15*time.Second)
	r.waitIdle(t)
	if n := r.kam.Count("TEST-INVITE from=sip:+4930555129@" + gsmDomain + " user=trunkuser"); n != 1 {
		t.Errorf("Kamailio saw %d INVITEs from the caller authenticated as the trunk, want 1", n)
	}
	if from := logValue(sippLog(s), "FROM"); !strings.HasPrefix(from, "<sip:+4930555129@"+gsmDomain+">") {
		t.Errorf("From behind Kamailio %q", from)
	}
}

// TestGSMVoiceCallerGivesUp: the GSM caller hangs up while the PBX
// rings: the box CANCELs the INVITE.
func TestGSMVoiceCallerGivesUp(t *testing.T) {
	t.Parallel()
	r := newGSMRig(t)
	s := startSIPpAt(t, r.pbx, gsmPBXIP, "uas_gsm_in_cancel", 1)
	r.far.call("+4930555130")
	waitFor(t, 10*time.Second, "the PBX ringing (SIPp sent 180)", func() bool {
		return strings.Contains(s.traces(), "SIP/2.0 180 Ringing")
	})
	r.far.hangup()
	s.wait(t, 15*time.Second)
	r.waitIdle(t)
	c, err := r.api.GSMCalls(context.Background())
	if err != nil || len(c.Recent) == 0 || c.Recent[0].SIPCode != 487 {
		t.Errorf("after the caller gave up: %+v %v; want 487", c.Recent, err)
	}
}

// TestGSMVoiceLimits: voice.max_call_sec ends a call from the box's side,
// voice.max_calls_per_day refuses the PBX's next call with 403 and says
// which setting.
func TestGSMVoiceLimits(t *testing.T) {
	t.Parallel()
	r := newGSMRigWith(t, gsmRigOptions{voice: func(v *config.GSMVoice) { v.MaxCallSec, v.MaxCallsPerDay = 1, 2 }})
	dial := func(number string) string {
		s := startSIPpAt(t, r.pbx, gsmPBXIP, "uac_gsm_out", 1, "-trace_logs", "-s", number, gsmBoxIP+":5060")
		s.wait(t, 15*time.Second)
		r.waitIdle(t)
		return sippLog(s)
	}
	r.far.setDialResult("answer")
	if log := dial("+49301234580"); logValue(log, "FINAL") != "200" || logValue(log, "BYE") != "gsm" {
		t.Errorf("a call over max_call_sec (1 s), SIPp talking 4 s:\n%s\nwant 200, then the box's BYE", log)
	}
	r.far.setDialResult("busy")
	if log := dial("+49301234581"); logValue(log, "FINAL") != "486" {
		t.Errorf("the day's second call: %s, want 486 from the far end", logValue(log, "FINAL"))
	}
	n := len(r.far.dialed())
	log := dial("+49301234582")
	if logValue(log, "FINAL") != "403" || !strings.Contains(logValue(log, "REASON"), "max_calls_per_day") {
		t.Errorf("the day's third call over max_calls_per_day 2:\n%s\nwant 403 naming the setting", log)
	}
	if len(r.far.dialed()) != n {
		t.Errorf("the call over the day's limit was dialled")
	}
	c, err := r.api.GSMCalls(context.Background())
	if err != nil || c.CallsToday != 2 {
		t.Errorf("calls today %d (%v), want 2", c.CallsToday, err)
	}
}

// TestGSMVoiceInboundRefused: a PBX answering 486 makes the box hang up
// the GSM call without answering it (the caller is never charged).
func TestGSMVoiceInboundRefused(t *testing.T) {
	t.Parallel()
	r := newGSMRig(t)
	s := startSIPpAt(t, r.pbx, gsmPBXIP, "uas_gsm_in_busy", 1)
	r.far.call("+4930555127")
	s.wait(t, 15*time.Second)
	r.waitIdle(t)
	calls, err := r.api.GSMCalls(context.Background())
	if err != nil || len(calls.Recent) == 0 || calls.Recent[0].SIPCode != 486 || !calls.Recent[0].AnsweredAt.IsZero() {
		t.Errorf("after the PBX's 486: %+v %v; want the call ended 486, never answered", calls.Recent, err)
	}
	if rx, _ := r.far.audio(); rx != 0 {
		t.Errorf("the card got %d audio frames from a call never answered", rx)
	}
	var m strings.Builder
	if err := r.api.Metrics(context.Background(), &m); err != nil || !strings.Contains(m.String(), `edgebox_gateway_gsm_calls_total{code="486",direction="in"} 1`) {
		t.Errorf("metrics (%v) lack the refused GSM call:\n%s", err, m.String())
	}
}

// TestGSMVoicePBXTone: the other way round: the PBX plays 440 Hz (SIPp's
// rtpstream, PCMA) and the card hears 440 Hz.
func TestGSMVoicePBXTone(t *testing.T) {
	t.Parallel()
	r := newGSMRig(t)
	dir := t.TempDir()
	tone := make([]byte, 2*8000)
	for i := range tone {
		tone[i] = gateway.EncodeALaw(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000)))
	}
	toneFile := filepath.Join(dir, "tone440.pcma")
	scen, err := os.ReadFile(filepath.Join("testdata", "sipp", "uas_gsm_in_tone.xml"))
	if err != nil {
		t.Fatal(err)
	}
	scenFile := filepath.Join(dir, "uas_gsm_in_tone.xml")
	if err := os.WriteFile(toneFile, tone, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scenFile, []byte(strings.ReplaceAll(string(scen), "TONE_FILE", toneFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.far.setDetect(440)
	s := startSIPpAt(t, r.pbx, gsmPBXIP, scenFile, 1, "-trace_logs")
	r.far.call("+4930555125")
	waitFor(t, 10*time.Second, "440 Hz from the PBX at the card", func() bool {
		_, tones := r.far.audio()
		return tones >= 50
	})
	s.wait(t, 15*time.Second)
	r.waitIdle(t)
	rx, tones := r.far.audio()
	t.Logf("card: %d frames from the box, %d of them 440 Hz", rx, tones)
}

// TestGSMVoiceOutbound: the PBX dials out over the SIM; the far end's
// outcome maps to SIP codes; the allow-list, the one-call rule and the
// PBX-only rule refuse what they must.
func TestGSMVoiceOutbound(t *testing.T) {
	t.Parallel()
	r := newGSMRig(t)
	dial := func(t *testing.T, ns, ip, number string, extra ...string) *sipp {
		return startSIPpAt(t, ns, ip, "uac_gsm_out", 1, append([]string{"-trace_logs", "-s", number, gsmBoxIP + ":5060"}, extra...)...)
	}
	t.Run("answered, audio, PBX hangs up", func(t *testing.T) {
		r.far.setDialResult("answer")
		s := dial(t, r.pbx, gsmPBXIP, "+49301234567")
		s.wait(t, 20*time.Second)
		log := sippLog(s)
		if logValue(log, "FINAL") != "200" || logValue(log, "EARLY") != "183" || logValue(log, "BYE") != "pbx" {
			t.Errorf("SIPp log:\n%s\nwant 183, 200, the PBX's BYE", log)
		}
		if d := r.far.dialed(); len(d) == 0 || d[len(d)-1] != "+49301234567" {
			t.Errorf("dialled %v", d)
		}
		if rx, tones := r.far.audio(); tones < 25 {
			t.Errorf("%d frames of 1000 Hz (of %d) came back to the card, want 25 or more", tones, rx)
		}
		r.waitIdle(t)
	})
	t.Run("GSM side hangs up", func(t *testing.T) {
		r.far.setDialResult("answer")
		s := dial(t, r.pbx, gsmPBXIP, "+49301234568")
		waitFor(t, 10*time.Second, "the call up", func() bool {
			c, err := r.api.GSMCalls(context.Background())
			return err == nil && len(c.Active) == 1 && c.Active[0].State == "connected"
		})
		r.far.hangup()
		s.wait(t, 15*time.Second)
		if log := sippLog(s); logValue(log, "BYE") != "gsm" {
			t.Errorf("SIPp log:\n%s\nwant the box's BYE", log)
		}
		r.waitIdle(t)
	})
	for _, tc := range []struct{ result, code string }{
		{"busy", "486"}, {"noanswer", "480"}, {"nocarrier", "480"}, {"nonetwork", "503"}, {"invalid", "484"},
	} {
		t.Run(tc.result, func(t *testing.T) {
			r.far.setDialResult(tc.result)
			s := dial(t, r.pbx, gsmPBXIP, "+49301234569")
			s.wait(t, 15*time.Second)
			if got := logValue(sippLog(s), "FINAL"); got != tc.code {
				t.Errorf("%s: the PBX got %s, want %s", tc.result, got, tc.code)
			}
			r.waitIdle(t)
			if tc.result == "noanswer" {
				// 600 ms of alerting: modemsim's voice path stays shut,
				// so the box sent its own ringback as early media
				c, err := r.api.GSMCalls(context.Background())
				if err != nil || len(c.Recent) == 0 || c.Recent[0].Audio == nil || c.Recent[0].Audio.RTPOut < 10 {
					t.Errorf("early media while the far end rang: %+v %v; want 10 or more RTP packets", c.Recent, err)
				}
			}
		})
	}
	t.Run("allow-list", func(t *testing.T) {
		n := len(r.far.dialed())
		for _, num := range []string{"+33123456789", "+4940123456", "+49900123456", "112"} {
			s := dial(t, r.pbx, gsmPBXIP, num)
			s.wait(t, 10*time.Second)
			log := sippLog(s)
			if logValue(log, "FINAL") != "403" || !strings.Contains(logValue(log, "REASON"), "cause=403") {
				t.Errorf("%s: SIPp log\n%s\nwant 403 with a Reason", num, log)
			}
		}
		if len(r.far.dialed()) != n {
			t.Errorf("refused numbers were dialled: %v", r.far.dialed()[n:])
		}
	})
	t.Run("CANCEL while ringing", func(t *testing.T) {
		r.far.setDialResult("noanswer") // rings 600 ms: the CANCEL comes 200 ms after 183
		s := startSIPpAt(t, r.pbx, gsmPBXIP, "uac_gsm_out_cancel", 1, "-s", "+49301234570", gsmBoxIP+":5060")
		s.wait(t, 15*time.Second)
		r.waitIdle(t)
	})
	t.Run("one call per SIM", func(t *testing.T) {
		r.far.setDialResult("answer")
		first := dial(t, r.pbx, gsmPBXIP, "+49301234571")
		waitFor(t, 10*time.Second, "the first call up", func() bool { return r.far.live() == 1 })
		second := dial(t, r.pbx, gsmPBX2IP, "+49301234572")
		second.wait(t, 10*time.Second)
		if got := logValue(sippLog(second), "FINAL"); got != "503" || !strings.Contains(logValue(sippLog(second), "REASON"), "cause=34") {
			t.Errorf("a second call while the SIM carries one got %s (%s), want 503 with Q.850 cause 34 so a dispatcher tries another box", got, logValue(sippLog(second), "REASON"))
		}
		first.wait(t, 15*time.Second)
		if got := logValue(sippLog(first), "FINAL"); got != "200" {
			t.Errorf("the first call got %s, want 200", got)
		}
		r.waitIdle(t)
	})
	t.Run("draining", func(t *testing.T) {
		// a live GSM call holds the drain; a new INVITE gets 503
		r.far.setDialResult("answer")
		first := dial(t, r.pbx, gsmPBXIP, "+49301234574")
		waitFor(t, 10*time.Second, "the call up", func() bool {
			c, err := r.api.GSMCalls(context.Background())
			return err == nil && len(c.Active) == 1 && c.Active[0].State == "connected"
		})
		drained := make(chan error, 1)
		go func() {
			var d struct {
				ActiveCalls int `json:"active_calls"`
			}
			err := r.api.Post(context.Background(), "/v1/drain?wait=1", struct{}{}, &d)
			if err == nil && d.ActiveCalls != 0 {
				err = fmt.Errorf("drain returned with %d calls live", d.ActiveCalls)
			}
			drained <- err
		}()
		waitFor(t, 5*time.Second, "draining", func() bool {
			st, err := r.api.Status(context.Background())
			return err == nil && st.Draining && st.ActiveCalls == 1
		})
		second := dial(t, r.pbx, gsmPBX2IP, "+49301234575")
		second.wait(t, 10*time.Second)
		if got := logValue(sippLog(second), "FINAL"); got != "503" {
			t.Errorf("an INVITE while draining got %s, want 503", got)
		}
		select {
		case err := <-drained:
			t.Errorf("the drain ended (%v) while the GSM call was live", err)
		default:
		}
		first.wait(t, 15*time.Second)
		if err := <-drained; err != nil {
			t.Error(err)
		}
		if err := r.api.Post(context.Background(), "/v1/undrain", struct{}{}, nil); err != nil {
			t.Fatal(err)
		}
		r.waitIdle(t)
	})
	t.Run("not from the PBX", func(t *testing.T) {
		n := len(r.far.dialed())
		s := dial(t, r.pbx, gsmStranger, "+49301234573")
		s.wait(t, 10*time.Second)
		if got := logValue(sippLog(s), "FINAL"); got != "403" {
			t.Errorf("a stranger's INVITE got %s, want 403", got)
		}
		if len(r.far.dialed()) != n {
			t.Errorf("a stranger's INVITE was dialled: %v", r.far.dialed()[n:])
		}
	})
}
