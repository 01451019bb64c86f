package config

import (
	"errors"
	"strings"
	"testing"
)

func gsmSIM(slot string) GSMSIM {
	return GSMSIM{Slot: slot, CountryCode: "49", SMS: GSMSMS{Allow: []string{"+4915*", "+4917*"}}}
}

func TestGSMValidate(t *testing.T) {
	ok := GatewayGSM{Enabled: true, SIMs: []GSMSIM{gsmSIM("1"), gsmSIM("2")}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("two slots: %v", err)
	}
	for _, c := range []struct {
		name string
		tune func(*GatewayGSM)
		want string
	}{
		{"enabled without SIM", func(g *GatewayGSM) { g.SIMs = nil }, "gateway.gsm.sims: list at least one SIM"},
		{"slot twice", func(g *GatewayGSM) { g.SIMs[1].Slot = "1" }, `gateway.gsm.sims[1].slot: slot "1" is already sims[0]`},
		{"span twice", func(g *GatewayGSM) { g.SIMs[0].AMISpan = 3 }, "gateway.gsm.sims[1].ami_span: span 3 is already sims[0]'s"},
		{"bad slot", func(g *GatewayGSM) { g.SIMs[0].Slot = "a b" }, "gateway.gsm.sims[0].slot"},
		{"number not E.164", func(g *GatewayGSM) { g.SIMs[0].Number = "0151234567" }, "gateway.gsm.sims[0].number"},
		{"no country code", func(g *GatewayGSM) { g.SIMs[0].CountryCode = "" }, "gateway.gsm.sims[0].country_code"},
		{"message uri", func(g *GatewayGSM) { g.SIMs[0].SMS.MessageURI = "http://x" }, "gateway.gsm.sims[0].sms.message_uri"},
		{"webhook without secret", func(g *GatewayGSM) { g.SIMs[0].SMS.WebhookURL = "https://hook.example/sms" }, "gateway.gsm.sims[0].sms.webhook_secret"},
		{"bad pattern", func(g *GatewayGSM) { g.SIMs[0].SMS.Allow = []string{"sip:*"} }, "gateway.gsm.sims[0].sms.allow[0]"},
		{"rate", func(g *GatewayGSM) { g.SIMs[0].SMS.RatePerMinute = 10000 }, "gateway.gsm.sims[0].sms.rate_per_minute"},
		{"ami without users", func(g *GatewayGSM) { g.AMI.Enabled = true }, "gateway.gsm.ami.users"},
		{"ami short secret", func(g *GatewayGSM) { g.AMI.Users = []GSMAMIUser{{Username: "api", Secret: "short"}} }, "gateway.gsm.ami.users[0].secret"},
		{"ami unknown read class", func(g *GatewayGSM) {
			g.AMI.Users = []GSMAMIUser{{Username: "api", Secret: "long-enough", Read: []string{"sms", "call"}}}
		}, `gateway.gsm.ami.users[0].read[1]: "call" is not an event class`},
	} {
		g := ok
		g.SIMs = []GSMSIM{gsmSIM("1"), gsmSIM("2")}
		c.tune(&g)
		err := g.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// the section is part of the gateway's validation
	gw := DefaultGateway()
	gw.GSM.Enabled = true
	if err := gw.Validate(); err == nil || !strings.Contains(err.Error(), "gateway.gsm.sims") {
		t.Errorf("gateway validate: %v", err)
	}
}

func TestGSMCheckDestination(t *testing.T) {
	s := gsmSIM("1")
	for _, c := range []struct {
		in, num, reason string
	}{
		{"+4915112345678", "+4915112345678", ""},
		{"015112345678", "+4915112345678", ""},
		{"004917012345678", "+4917012345678", ""},
		{"+4930123456", "+4930123456", GSMRefusedNotAllowed},
		{"+4990012345678", "+4990012345678", GSMRefusedPremium},
		{"0900123456", "+49900123456", GSMRefusedPremium},
		{"+19005550100", "+19005550100", GSMRefusedPremium},
		{"+442071234567", "+442071234567", GSMRefusedInternational},
		{"0044151234567", "+44151234567", GSMRefusedInternational},
		{"11222", "11222", GSMRefusedShortCode},
		{"+49 151", "+49 151", GSMRefusedNotANumber},
		{"sip:x", "sip:x", GSMRefusedNotANumber},
	} {
		num, err := s.CheckDestination(c.in, 0)
		var de *GSMDestinationError
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s: refused: %v", c.in, err)
		case c.reason != "" && (!errors.As(err, &de) || de.Reason != c.reason):
			t.Errorf("%s: %v, want %s", c.in, err, c.reason)
		case c.reason != GSMRefusedNotANumber && num != c.num:
			t.Errorf("%s: normalised to %s, want %s", c.in, num, c.num)
		}
	}
	// allowed explicitly: international and short codes pass their
	// patterns; premium never does
	s.SMS.International, s.SMS.ShortCodes = true, true
	s.SMS.Allow = append(s.SMS.Allow, "+44*", "11222", "+49900*")
	for _, n := range []string{"+442071234567", "11222"} {
		if _, err := s.CheckDestination(n, 0); err != nil {
			t.Errorf("%s allowed explicitly: %v", n, err)
		}
	}
	if _, err := s.CheckDestination("+4990012345678", 0); err == nil {
		t.Error("a premium number passed because an allow pattern lists it")
	}
}
