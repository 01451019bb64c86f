package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/internal/config"
)

// The Calls/GSM page (issue 19): the GSM calls the gateway carries now
// and lately, and each SIM's routing of calls and SMS as the config has
// it. The dashboard's trunk card adds a line with the live GSM calls.

// gsmView is the GSM page.
type gsmView struct {
	Error  string
	Voice  bool
	Why    string
	Active []gsmCallView
	Recent []gsmCallView
	Today  int
	SIMs   []gsmSIMView
	Off    bool // gateway.gsm is off
}

type gsmCallView struct {
	Direction, Number, SIM, State, Codec, Result string
	Started                                      time.Time
	Talk                                         float64
	Audio                                        string
}

// gsmSIMView is one SIM's routing, as configured, and its state as the
// gateway sees it (each slot's modem, issue 19 item 5).
type gsmSIMView struct {
	Slot, Number                      string
	Inbound, DialAllow, DialLimit     string
	SMSTo, SMSWebhook, SMSAllow, Rate string
	// State is "ready", "busy" or "no voice" (Why says why); "" when the
	// gateway did not answer.
	State, Why, Identity string
	Today                int
}

func gsmCallOf(lang string, c gatewayapi.GSMCall) gsmCallView {
	v := gsmCallView{Direction: tr(lang, "incoming"), Number: c.Number, SIM: c.SIM, State: c.State, Codec: c.Codec, Started: c.StartedAt, Talk: c.DurationSec}
	if c.Direction == gatewayapi.GSMOutbound {
		v.Direction = tr(lang, "outgoing")
	}
	if c.Withheld {
		v.Number = tr(lang, "withheld")
	}
	if c.SIPCode != 0 || c.Reason != "" {
		v.Result = strings.TrimSpace(fmt.Sprintf("%d %s", c.SIPCode, c.Reason))
	}
	if a := c.Audio; a != nil {
		v.Audio = fmt.Sprintf("%d/%d RTP, %.0f ms, %+.0f ppm", a.RTPIn, a.RTPOut, a.DepthMS, a.DriftPPM)
	}
	return v
}

func gsmSIMOf(lang string, s config.GSMSIM) gsmSIMView {
	none := tr(lang, "none")
	list := func(p []string) string {
		if len(p) == 0 {
			return none
		}
		return strings.Join(p, " ")
	}
	v := gsmSIMView{Slot: s.Slot, Number: s.Number, Inbound: s.Voice.Inbound, DialAllow: list(s.Voice.Allow),
		SMSTo: s.SMS.MessageURI, SMSWebhook: s.SMS.WebhookURL, SMSAllow: list(s.SMS.Allow),
		Rate: trf(lang, "%d per minute", s.SMS.RatePerMinuteOrDefault())}
	if v.Number == "" {
		v.Number = tr(lang, "from the SIM")
	}
	if v.Inbound == "" {
		v.Inbound = tr(lang, "hung up (no destination)")
	}
	for _, p := range []*string{&v.SMSTo, &v.SMSWebhook} {
		if *p == "" {
			*p = none
		}
	}
	v.DialLimit = tr(lang, "no limit")
	if n := s.Voice.MaxCallsPerDay; n > 0 {
		v.DialLimit = trf(lang, "%d calls per day", n)
	}
	return v
}

// gsmSIMState fills in what the gateway says of the SIM of v's slot.
func gsmSIMState(lang string, v *gsmSIMView, sims []gatewayapi.GSMSIM) {
	for _, s := range sims {
		if s.Slot != v.Slot {
			continue
		}
		v.Identity, v.Today, v.Why = s.Identity, s.CallsToday, s.Why
		switch {
		case !s.Voice:
			v.State = "no voice"
		case s.Busy:
			v.State = "busy"
		case !s.Registered:
			v.State = "not registered"
		default:
			v.State = "ready"
		}
		v.State = tr(lang, v.State)
	}
}

// gsmCalls asks the gateway for its GSM calls.
func gsmCalls(ctx context.Context) (gatewayapi.GSMCalls, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return gatewayapi.NewClient().GSMCalls(ctx)
}

func (s *Server) pageGSM(w http.ResponseWriter, r *http.Request, se *session) {
	lang := langOf(r)
	v := gsmView{}
	if cfg, err := s.loadConfig(); err == nil {
		v.Off = !cfg.Gateway.GSM.Enabled
		for _, sim := range cfg.Gateway.GSM.SIMs {
			v.SIMs = append(v.SIMs, gsmSIMOf(lang, sim))
		}
	}
	if socketAbsent(gatewayapi.SocketName) {
		v.Error = tr(lang, "Gateway service not available.")
	} else if calls, err := gsmCalls(r.Context()); err != nil {
		v.Error = trf(lang, "GSM calls are not available: %s", plainWords(err.Error()))
	} else {
		v.Voice, v.Why, v.Today = calls.Voice, calls.Why, calls.CallsToday
		for i := range v.SIMs {
			gsmSIMState(lang, &v.SIMs[i], calls.SIMs)
		}
		for _, c := range calls.Active {
			v.Active = append(v.Active, gsmCallOf(lang, c))
		}
		for _, c := range calls.Recent {
			v.Recent = append(v.Recent, gsmCallOf(lang, c))
		}
	}
	p := s.authedPage(se, "GSM", "gsm", v)
	p.Refresh = 10
	s.render(w, r, http.StatusOK, "gsm", p)
}

// gsmDashboardLine is the trunk card's line about GSM calls; ok is false
// when the GSM bridge is off or the gateway does not answer.
func gsmDashboardLine(ctx context.Context, lang string) ([2]string, bool) {
	if socketAbsent(gatewayapi.SocketName) {
		return [2]string{}, false
	}
	calls, err := gsmCalls(ctx)
	if err != nil || !calls.Voice {
		return [2]string{}, false
	}
	if len(calls.Active) == 0 {
		return [2]string{tr(lang, "GSM calls"), tr(lang, "none now")}, true
	}
	c := gsmCallOf(lang, calls.Active[0])
	line := fmt.Sprintf("%s %s · %s · %s", c.Direction, c.Number, tr(lang, c.State), humanDuration(time.Duration(c.Talk)*time.Second))
	if n := len(calls.Active); n > 1 {
		line += " " + trf(lang, "(+%d on other SIMs)", n-1)
	}
	return [2]string{tr(lang, "GSM calls"), line}, true
}
