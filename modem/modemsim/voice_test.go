package modemsim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/modem"
)

var fastVoice = VoiceTiming{Ring: 100 * time.Millisecond, Alert: 30 * time.Millisecond, Outcome: 50 * time.Millisecond, NoAnswer: 80 * time.Millisecond, Report: 30 * time.Millisecond}

// voiceRig is a Sim with an engine on it and its URCs decoded by the
// modem package's voice parser.
type voiceRig struct {
	t    *testing.T
	sim  *Sim
	e    *modem.Engine
	urcs <-chan modem.URC
}

func newVoiceRig(t *testing.T, profile string) *voiceRig {
	sim, e := engineOn(t, Config{Profile: profile})
	sim.SetVoiceTiming(fastVoice)
	urcs, unsub := e.Subscribe(256)
	t.Cleanup(unsub)
	r := &voiceRig{t: t, sim: sim, e: e, urcs: urcs}
	r.at("ATE0")
	r.at("AT+CMEE=1")
	r.at("AT+CLIP=1")
	return r
}

func (r *voiceRig) at(cmd string) modem.Response {
	r.t.Helper()
	resp, err := r.e.Command(context.Background(), cmd, 2*time.Second)
	if err != nil {
		r.t.Fatalf("%s: %v", cmd, err)
	}
	return resp
}

func (r *voiceRig) control(cmd string) string {
	r.t.Helper()
	out, err := r.sim.Control(cmd)
	if err != nil {
		r.t.Fatalf("control %s: %v", cmd, err)
	}
	return out
}

// next waits for the next voice URC (others are skipped).
func (r *voiceRig) next() modem.VoiceEvent {
	r.t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case u := <-r.urcs:
			if ev, ok := modem.ParseVoiceURC(u); ok {
				return ev
			}
		case <-deadline:
			r.t.Fatal("no voice URC within 3s")
		}
	}
}

// expect waits for a URC of kind, failing on any other voice URC except
// those in skip.
func (r *voiceRig) expect(kind string, skip ...string) modem.VoiceEvent {
	r.t.Helper()
	for {
		ev := r.next()
		if ev.Kind == kind {
			return ev
		}
		ok := false
		for _, s := range skip {
			ok = ok || ev.Kind == s
		}
		if !ok {
			r.t.Fatalf("want %s, got %+v", kind, ev)
		}
	}
}

// quiet checks that no voice URC comes for d.
func (r *voiceRig) quiet(d time.Duration) {
	r.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case u := <-r.urcs:
			if ev, ok := modem.ParseVoiceURC(u); ok {
				r.t.Fatalf("unexpected %+v (%s)", ev, u.Line)
			}
		case <-deadline:
			return
		}
	}
}

func (r *voiceRig) calls() []modem.Call {
	r.t.Helper()
	calls, err := modem.ParseCLCC(r.at("AT+CLCC").Lines)
	if err != nil {
		r.t.Fatal(err)
	}
	return calls
}

func TestIncomingCallRingsUntilAnswered(t *testing.T) {
	for _, profile := range []string{"quectel-ec25", "huawei-me909s"} {
		t.Run(profile, func(t *testing.T) {
			r := newVoiceRig(t, profile)
			if out := r.control("call +4915550100"); out != "1" {
				t.Fatalf("call index %q", out)
			}
			for i := 0; i < 2; i++ { // it rings again: RING + CLIP each time
				r.expect(modem.VoiceRing)
				if ev := r.expect(modem.VoiceCLIP); ev.Number != "+4915550100" || ev.Withheld {
					t.Fatalf("clip %+v", ev)
				}
			}
			if c := r.calls(); len(c) != 1 || c[0].State != modem.CallIncoming || !c[0].Incoming || c[0].Number != "+4915550100" {
				t.Fatalf("CLCC %+v", c)
			}
			r.at("ATA")
			if profile == "huawei-me909s" {
				if ev := r.expect(modem.VoiceConnected, modem.VoiceRing, modem.VoiceCLIP); ev.Call != 1 {
					t.Fatalf("^CONN %+v", ev)
				}
			}
			if c := r.calls(); len(c) != 1 || c[0].State != modem.CallActive {
				t.Fatalf("after ATA: %+v", c)
			}
			// Drain a RING that raced ATA, then: no more rings.
			time.Sleep(30 * time.Millisecond)
			for len(r.urcs) > 0 {
				<-r.urcs
			}
			r.quiet(250 * time.Millisecond)
			r.control("hangup")
			ev := r.expect(modem.VoiceEnded)
			if profile == "huawei-me909s" {
				if ev.Call != 1 || ev.Cause != 16 {
					t.Fatalf("^CEND %+v", ev)
				}
				ev = r.expect(modem.VoiceEnded)
			}
			if ev.Reason != modem.EndNoCarrier {
				t.Fatalf("far-end hangup: %+v", ev)
			}
			if c := r.calls(); len(c) != 0 {
				t.Fatalf("calls left: %+v", c)
			}
			// ATA without a call: NO CARRIER.
			if _, err := r.e.Command(context.Background(), "ATA", time.Second); err == nil {
				t.Fatal("ATA without a call answered OK")
			}
		})
	}
}

func TestIncomingWithheldAndCRING(t *testing.T) {
	r := newVoiceRig(t, "quectel-ec25")
	r.at("AT+CRC=1")
	r.control("call withheld")
	u := <-r.urcs
	for u.Line == "" || !strings.HasPrefix(u.Line, "+CRING") {
		u = <-r.urcs
	}
	if u.Line != "+CRING: VOICE" {
		t.Fatalf("ring %q", u.Line)
	}
	ev := r.expect(modem.VoiceCLIP)
	if !ev.Withheld || ev.Number != "" || ev.Reason != "withheld" {
		t.Fatalf("withheld clip %+v", ev)
	}
	if c := r.calls(); len(c) != 1 || c[0].Number != "" || c[0].NumberType != 128 {
		t.Fatalf("CLCC %+v", c)
	}
	// The box hangs up the ringing call: no NO CARRIER for a local hangup.
	r.at("AT+CHUP")
	if c := r.calls(); len(c) != 0 {
		t.Fatalf("after CHUP %+v", c)
	}
	if _, err := r.sim.Control("hangup"); err == nil {
		t.Fatal("hangup without a call accepted")
	}
	for _, bad := range []string{"call", "call 12ab", "dialresult maybe", "dtmf 1", "smsreport later", "audio tone 9000", "hangup x"} {
		if _, err := r.sim.Control(bad); err == nil {
			t.Errorf("control %q accepted", bad)
		}
	}
}

func TestDialResults(t *testing.T) {
	for _, profile := range []string{"quectel-ec25", "huawei-me909s"} {
		huawei := profile == "huawei-me909s"
		t.Run(profile, func(t *testing.T) {
			r := newVoiceRig(t, profile)
			ctx := context.Background()
			cases := []struct {
				result, final, ceer string
				cause               int
			}{
				{"busy", modem.EndBusy, "User busy", 17},
				{"noanswer", modem.EndNoAnswer, "User alerting, no answer", 19},
				{"nocarrier", modem.EndNoCarrier, "Normal, unspecified", 31},
				{"invalid", modem.EndNoCarrier, "Unassigned (unallocated) number", 1},
			}
			for _, c := range cases {
				r.control("dialresult " + c.result)
				r.at("ATD+4915550100;")
				skip := []string{modem.VoiceDialing, modem.VoiceAlerting}
				if huawei {
					ev := r.expect(modem.VoiceEnded, skip...)
					if ev.Cause != c.cause {
						t.Errorf("%s: ^CEND %+v", c.result, ev)
					}
				}
				ev := r.expect(modem.VoiceEnded, skip...)
				if ev.Reason != c.final {
					t.Errorf("%s: ended %+v", c.result, ev)
				}
				if got := modem.ParseCEER(r.at("AT+CEER").Lines); !strings.Contains(r.at("AT+CEER").Lines[0], c.ceer) {
					t.Errorf("%s: CEER %q (%s)", c.result, r.at("AT+CEER").Lines, got)
				}
				if len(r.calls()) != 0 {
					t.Errorf("%s: call left", c.result)
				}
			}
			// No network: ATD fails at once with +CME ERROR: 30.
			r.control("dialresult nonetwork")
			if _, err := r.e.Command(ctx, "ATD+4915550100;", time.Second); !modem.IsCME(err, modem.CMENoNetwork) {
				t.Errorf("nonetwork: %v", err)
			}
			if _, err := r.e.Command(ctx, "ATD12ab;", time.Second); !modem.IsCME(err, 27) {
				t.Errorf("bad dial string: %v", err)
			}
			// Answered: alerting, then active; DTMF; CHUP.
			if _, err := r.e.Command(ctx, "AT+VTS=5", time.Second); err == nil {
				t.Error("VTS without a call accepted")
			}
			r.at("ATD+4915550100;")
			if huawei {
				if ev := r.expect(modem.VoiceDialing); ev.Call != 1 {
					t.Errorf("^ORIG %+v", ev)
				}
				r.expect(modem.VoiceAlerting)
				r.expect(modem.VoiceConnected)
			} else {
				testenv.WaitFor(t, 3*time.Second, "the call active", func() (bool, error) {
					c := r.calls()
					return len(c) == 1 && c[0].State == modem.CallActive, fmt.Errorf("calls %+v", c)
				})
			}
			if c := r.calls(); len(c) != 1 || c[0].Incoming || c[0].Number != "+4915550100" {
				t.Fatalf("MO call %+v", c)
			}
			dtmf := "AT+VTS=5"
			if huawei {
				dtmf = "AT^DTMF=1,5"
			}
			r.at(dtmf)
			r.at("AT+VTS=#")
			if _, err := r.e.Command(ctx, "AT+VTS=X", time.Second); err == nil {
				t.Error("VTS=X accepted")
			}
			var st VoiceState
			json.Unmarshal([]byte(r.control("calls")), &st)
			if strings.Join(st.DTMF, "") != "5#" || len(st.Dialed) != 6 {
				t.Errorf("state %+v", st)
			}
			r.at("AT+CHUP")
			if len(r.calls()) != 0 {
				t.Error("CHUP left a call")
			}
		})
	}
}

// Two calls: AT+CHLD=1x releases one; a second incoming call waits.
func TestCallWaitingAndCHLD(t *testing.T) {
	r := newVoiceRig(t, "quectel-ec25")
	r.control("call +4915550100")
	r.expect(modem.VoiceRing)
	r.at("ATA")
	r.control("call 0301234567")
	c := r.calls()
	if len(c) != 2 || c[1].State != modem.CallWaiting || c[1].Number != "0301234567" || c[1].NumberType != 129 {
		t.Fatalf("%+v", c)
	}
	r.at("AT+CHLD=12")
	if c := r.calls(); len(c) != 1 || c[0].Index != 1 {
		t.Fatalf("after CHLD=12: %+v", c)
	}
	if _, err := r.e.Command(context.Background(), "AT+CHLD=15", time.Second); err == nil {
		t.Fatal("CHLD on a missing call accepted")
	}
	r.at("ATH")
	if c := r.calls(); len(c) != 0 {
		t.Fatalf("ATH left %+v", c)
	}
}

func TestQuectelRemoteDTMF(t *testing.T) {
	r := newVoiceRig(t, "quectel-ec25")
	r.at("AT+QTONEDET=1")
	r.control("call +4915550100")
	r.at("ATA")
	r.control("dtmf 1#")
	if ev := r.expect(modem.VoiceDTMF, modem.VoiceRing, modem.VoiceCLIP); ev.Digit != "1" {
		t.Fatalf("%+v", ev)
	}
	if ev := r.expect(modem.VoiceDTMF); ev.Digit != "#" {
		t.Fatalf("%+v", ev)
	}
}

func TestSMSStatusReports(t *testing.T) {
	r := newVoiceRig(t, "huawei-me909s")
	r.at("AT+CMGF=0")
	enc := modem.NewSMSEncoder(3)
	send := func() int {
		pdus, err := enc.Submit("+4915550100", "hello")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := r.e.CommandPDU(context.Background(), "AT+CMGS="+itoa(pdus[0].TPDULen), pdus[0].Hex, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := resp.Line("+CMGS:")
		mr, _ := atoi(v)
		return mr
	}
	// Without ds=1 no report comes.
	send()
	r.quiet(150 * time.Millisecond)
	r.at("AT+CNMI=2,1,0,1,0")
	mr := send()
	ev := r.expect(modem.VoiceReport)
	if ev.Report.Ref != mr || ev.Report.Status != modem.ReportDelivered || ev.Report.Recipient != "+4915550100" {
		t.Fatalf("report %+v, ref %d", ev.Report, mr)
	}
	r.control("smsreport fail")
	mr = send()
	ev = r.expect(modem.VoiceReport)
	if ev.Report.Ref != mr || ev.Report.Status != modem.ReportFailed {
		t.Fatalf("failed report %+v", ev.Report)
	}
}

func TestHuaweiVoiceSwitches(t *testing.T) {
	r := newVoiceRig(t, "huawei-me909s")
	if v, _ := r.at("AT^CVOICE?").Line("^CVOICE:"); v != "1,8000,16,20" {
		t.Fatalf("^CVOICE? %q", v)
	}
	r.at("AT^CVOICE=0")
	r.control("call +4915550100")
	r.at("ATA")
	if r.sim.pathOpen() {
		t.Fatal("voice path open before ^DDSETEX=2")
	}
	r.at("AT^DDSETEX=2")
	if !r.sim.pathOpen() {
		t.Fatal("voice path closed after ^CVOICE=0, ATA, ^DDSETEX=2")
	}
	// Quectel commands are not Huawei's.
	if _, err := r.e.Command(context.Background(), "AT+QPCMV=1,0", time.Second); err == nil {
		t.Fatal("Huawei took AT+QPCMV")
	}
}
