package modem_test

import (
	"errors"
	"testing"
	"time"

	"edgebox/modem"
	"edgebox/modem/modemsim"
)

// The Modem's call commands against modemsim over a pty: what the card
// was sent, and what the Modem made of its answers.
func TestVoiceCommandsAgainstSimulator(t *testing.T) {
	for _, profile := range []string{"huawei-me909s", "quectel-ec25", "ericsson-f5521gw"} {
		t.Run(profile, func(t *testing.T) {
			r := newRig(t, profile, nil)
			r.sim.SetVoiceTiming(modemsim.VoiceTiming{Ring: time.Second, Alert: 20 * time.Millisecond, Outcome: 50 * time.Millisecond, NoAnswer: 50 * time.Millisecond, Report: 20 * time.Millisecond})
			ctx := ctxT(t)
			vs, err := r.m.VoiceSetup(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := profile != "ericsson-f5521gw"; vs.Capable != want || vs.Why == "" {
				t.Fatalf("voice set-up %+v", vs)
			}
			// Incoming: answered, then DTMF (Huawei: AT^DTMF=<call>,<d>).
			r.sim.IncomingCall("+4915550100")
			if err := r.m.Answer(ctx); err != nil {
				t.Fatal(err)
			}
			calls, err := r.m.Calls(ctx)
			if err != nil || len(calls) != 1 || calls[0].State != modem.CallActive || calls[0].Number != "+4915550100" {
				t.Fatalf("calls %+v %v", calls, err)
			}
			if err := r.m.SendDTMF(ctx, "9*"); err != nil {
				t.Fatal(err)
			}
			if err := r.m.SendDTMF(ctx, "9;ATH"); err == nil {
				t.Fatal("DTMF with a command in it accepted")
			}
			if got := r.sim.VoiceState().DTMF; len(got) != 2 || got[0] != "9" || got[1] != "*" {
				t.Fatalf("DTMF at the card %q", got)
			}
			if profile == "huawei-me909s" {
				if !r.sim.AudioStats().InCall {
					t.Fatal("Huawei voice path not open after Answer (^CVOICE=0, ^DDSETEX=2)")
				}
				if r.sim.CountCommand("AT^DTMF=1,9") != 1 {
					t.Fatalf("Huawei DTMF not sent as AT^DTMF: %q", r.sim.Commands())
				}
			}
			if err := r.m.Hangup(ctx, 1); err != nil {
				t.Fatal(err)
			}
			if calls, _ := r.m.Calls(ctx); len(calls) != 0 {
				t.Fatalf("after hangup %+v", calls)
			}
			// Outgoing: a dial the card refuses at once is a CallEndError.
			r.sim.SetDialResult("nonetwork")
			var ce *modem.CallEndError
			if err := r.m.Dial(ctx, "+4915550100"); !errors.As(err, &ce) || ce.Reason != modem.EndNoNetwork {
				t.Fatalf("no network: %v", err)
			}
			if err := r.m.Dial(ctx, "+49 155"); err == nil {
				t.Fatal("number with a blank accepted")
			}
			// BUSY after OK; AT+CEER then says why.
			r.sim.SetDialResult("busy")
			if err := r.m.Dial(ctx, "+4915550100"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if got := r.m.EndCause(ctx, "none"); got != modem.EndBusy {
				t.Fatalf("CEER after busy: %q", got)
			}
		})
	}
}
