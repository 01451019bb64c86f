package config

import (
	"errors"
	"strings"
	"testing"
)

func TestGSMVoiceValidate(t *testing.T) {
	g := GatewayGSM{Enabled: true, SIMs: []GSMSIM{{Slot: "1", CountryCode: "49", Voice: GSMVoice{
		Inbound: "sip:queue@pbx.example.com", Allow: []string{"+4930*"}, Codecs: []string{"pcmu"}, MaxCallsPerDay: 50,
	}}}}
	if err := g.Validate(); err != nil {
		t.Fatalf("a good voice section refused: %v", err)
	}
	for _, c := range []struct {
		v     GSMVoice
		field string
	}{
		{GSMVoice{Inbound: "queue with spaces"}, "sims[0].voice.inbound"},
		{GSMVoice{Inbound: "sip:nohost"}, "sims[0].voice.inbound"},
		{GSMVoice{Allow: []string{"+49a"}}, "sims[0].voice.allow[0]"},
		{GSMVoice{Codecs: []string{"opus"}}, "sims[0].voice.codecs[0]"},
		{GSMVoice{JitterMS: 5}, "sims[0].voice.jitter_ms"},
		{GSMVoice{MaxCallsPerDay: -1}, "sims[0].voice.max_calls_per_day"},
	} {
		g.SIMs[0].Voice = c.v
		err := g.Validate()
		if err == nil || !strings.Contains(err.Error(), "gateway.gsm."+c.field) {
			t.Errorf("%+v: error %v, want one naming %s", c.v, err, c.field)
		}
	}
}

func TestGSMCheckDial(t *testing.T) {
	s := GSMSIM{Slot: "1", CountryCode: "49", SMS: GSMSMS{Allow: []string{"*"}}, Voice: GSMVoice{Allow: []string{"+4930*"}}}
	if n, err := s.CheckDial("0301234567", 0); err != nil || n != "+49301234567" {
		t.Errorf("0301234567: %q %v, want +49301234567 allowed", n, err)
	}
	for _, c := range []struct{ n, reason string }{
		{"+4940123456", GSMRefusedNotAllowed}, // SMS allows it, voice does not
		{"+4930x", GSMRefusedNotANumber},
		{"+49900123456", GSMRefusedPremium},
		{"+33123456789", GSMRefusedInternational},
		{"112", GSMRefusedShortCode},
	} {
		_, err := s.CheckDial(c.n, 0)
		var de *GSMDestinationError
		if !errors.As(err, &de) || de.Reason != c.reason || !strings.Contains(de.Field, ".voice") {
			t.Errorf("%s: %v, want %s from a voice field", c.n, err, c.reason)
		}
	}
}
