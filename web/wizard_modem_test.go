package web

import (
	"strings"
	"testing"
	"time"

	"edgebox/api/modemapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// The mobile step's check for the modems installers meet in the field,
// with netctl's reports as netctl words them (modem/errors.go,
// netctl/modem_*.go).
func TestModemCheckFieldCases(t *testing.T) {
	now := time.Now()
	cfgAPN := func(apn string) *config.Config {
		c := &config.Config{}
		c.Network.Modem.Enabled, c.Network.Modem.APN = true, apn
		return c
	}
	home := &modemapi.Registration{State: "home", Operator: "Vodafone.de", Tech: "lte"}
	ready := &modemapi.SIMStatus{State: "ready"}
	cases := []struct {
		name      string
		lang      string
		m         *netapi.ModemStatus
		apn       string
		state     string
		want, not []string
	}{
		{
			// Just after boot the card may still be enumerating.
			name: "no modem yet", lang: "en", apn: "internet",
			m:     &netapi.ModemStatus{State: "absent", Error: "no modem found; check that the card is seated", ErrorTime: now.Add(-10 * time.Second)},
			state: "wait", want: []string{"Looking for the modem"},
		},
		{
			// A box with no modem at all: a spinner for ever before.
			name: "no modem at all", lang: "en", apn: "internet",
			m:     &netapi.ModemStatus{State: "absent", Error: "no modem found; check that the card is seated", ErrorTime: now.Add(-3 * time.Minute)},
			state: "fail", want: []string{"No modem found", "untick “Use the mobile modem”"},
		},
		{
			name: "no modem at all, German", lang: "de", apn: "internet",
			m:     &netapi.ModemStatus{State: "absent", Error: "no modem found; check that the card is seated", ErrorTime: now.Add(-3 * time.Minute)},
			state: "fail", want: []string{"Kein Modem gefunden", "Mobilfunkmodem verwenden"},
		},
		{
			name: "modem without a SIM", lang: "en", apn: "internet",
			m:     &netapi.ModemStatus{State: "sim", SIM: &modemapi.SIMStatus{State: "absent"}, Error: "no SIM card; insert one"},
			state: "fail", want: []string{"SIM"},
		},
		{
			// Registered, but the network refuses data on the APN: before,
			// "Registered on Vodafone.de, connecting…" for ever.
			name: "registered, data refused", lang: "en", apn: "internet",
			m: &netapi.ModemStatus{State: "connecting", SIM: ready, Registration: home,
				Error: `the network refused the data connection for APN "internet" (cause 33): the SIM's plan has no data on this APN, or the modem is not on the network yet`},
			state: "fail", want: []string{"cause 33", "plan has no data"},
		},
		{
			name: "wrong APN, German", lang: "de", apn: "web.vodafone",
			m: &netapi.ModemStatus{State: "connecting", SIM: ready, Registration: home,
				Error: `the network refused the data connection for APN "web.vodafone" (cause 27): the APN is wrong: check it against the operator's`},
			state: "fail", want: []string{"der APN ist falsch", `"web.vodafone"`},
		},
		{
			// Registered, the data link never comes up: say so while
			// waiting.
			name: "registered, no data link", lang: "en", apn: "internet",
			m: &netapi.ModemStatus{State: "connecting", SIM: ready, Registration: home,
				Error: `the data connection did not come up within 1m0s (APN "internet"): check the APN and the signal`},
			state: "wait", want: []string{"Registered on Vodafone.de", "did not come up"},
		},
		{
			// The right APN just saved: netctl still reports the old
			// APN's refusal until the modem connects.
			name: "wrong APN then the right one", lang: "en", apn: "web.vodafone.de",
			m: &netapi.ModemStatus{State: "connecting", SIM: ready, Registration: home,
				Error: `the network refused the data connection for APN "wrong.apn" (cause 27): the APN is wrong: check it against the operator's`},
			state: "wait", want: []string{"Registered on Vodafone.de, connecting"}, not: []string{"wrong.apn"},
		},
		{
			// Roaming with network.modem.roaming: deny: a spinner and
			// "Registered on …, but no data connection yet" before.
			name: "roaming denied, German", lang: "de", apn: "internet",
			m: &netapi.ModemStatus{State: "registering", SIM: ready, Registration: &modemapi.Registration{State: "roaming", Operator: "Swisscom"},
				Error: "the modem is roaming (registered on a foreign network) and roaming is denied (network.modem.roaming: deny): the box does not dial, to avoid roaming charges; set roaming to allow if this SIM may roam"},
			state: "fail", want: []string{"Roaming ist verboten"},
		},
		{
			name: "connected", lang: "en", apn: "web.vodafone.de",
			m:     &netapi.ModemStatus{State: "connected", SIM: ready, Registration: home},
			state: "ok", want: []string{"Modem connected on Vodafone.de"},
		},
	}
	for _, c := range cases {
		got := checkIn(c.lang, Status{Network: &netapi.Status{Modem: c.m}}, cfgAPN(c.apn), "modem")
		if got.State != c.state {
			t.Errorf("%s: state %q, want %q (%s)", c.name, got.State, c.state, got.Message)
		}
		for _, w := range c.want {
			if !strings.Contains(got.Message, w) {
				t.Errorf("%s: %q lacks %q", c.name, got.Message, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(got.Message, w) {
				t.Errorf("%s: %q says %q", c.name, got.Message, w)
			}
		}
	}
}

// A save that renames the VPN device outside the firewall's and the web
// UI's interface patterns is refused at vpn.interface, in German: the
// tunnel would come up and every remote admin be locked out. A config
// that already had it does not block other saves.
func TestChangeChecksVPNLockout(t *testing.T) {
	old, _ := toDoc(config.Default())
	c := config.Default()
	c.VPN.Interface = "vpn0"
	errs := changeChecks("de", old, c)
	if len(errs) != 1 || errs[0].Field != "vpn.interface" || !strings.Contains(errs[0].Message, "Fernadministratoren") {
		t.Fatalf("vpn0: %+v", errs)
	}
	had, _ := toDoc(c)
	if errs := changeChecks("en", had, c); len(errs) != 0 {
		t.Errorf("an old lockout blocks other saves: %+v", errs)
	}
}
