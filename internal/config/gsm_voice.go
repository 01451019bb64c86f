package config

import (
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"strings"
)

// gsmQueueName is the gateway's queue-name destination (a name the
// PBX's domain is added to).
var gsmQueueName = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$`)

// GSMVoice is a SIM's voice routing and limits (issue 19): where its
// incoming calls ring at the PBX, what the PBX may dial through it.
type GSMVoice struct {
	// Inbound is where an incoming GSM call goes: a sip: URI at the PBX
	// ("sip:queue-sales@pbx.example.com") or a queue name (the PBX's
	// domain is added). Empty: incoming calls are hung up (and logged).
	Inbound string `json:"inbound,omitempty"`
	// Allow lists the numbers the PBX may dial out through this SIM: E.164
	// patterns with * and ? ("+4930*"). Anything else gets 403 (deny by
	// default). Deny, International and ShortCodes work as in sms.
	Allow         []string `json:"allow,omitempty"`
	Deny          []string `json:"deny,omitempty"`
	International bool     `json:"international,omitempty"`
	ShortCodes    bool     `json:"short_codes,omitempty"`
	// MaxCallsPerDay bounds the calls the PBX places through this SIM per
	// day (since local midnight); 0: no bound. The SIM carries one call at
	// a time whatever this says.
	MaxCallsPerDay int `json:"max_calls_per_day,omitempty"`
	// MaxCallSec ends a call (either way) that lasts longer; 0: no bound.
	MaxCallSec int `json:"max_call_sec,omitempty"`
	// RingSec is how long an incoming call may ring at the PBX before the
	// box hangs it up; 0: 60.
	RingSec int `json:"ring_sec,omitempty"`
	// Codecs toward the PBX in order of preference: "PCMA", "PCMU"; empty:
	// both, PCMA first (the European G.711).
	Codecs []string `json:"codecs,omitempty"`
	// JitterMS is the jitter buffer's depth toward the card; 0: 60.
	JitterMS int `json:"jitter_ms,omitempty"`
}

// RingSecOrDefault is RingSec with its default.
func (v GSMVoice) RingSecOrDefault() int {
	if v.RingSec <= 0 {
		return 60
	}
	return v.RingSec
}

// CodecsOrDefault is Codecs with its default, upper case.
func (v GSMVoice) CodecsOrDefault() []string {
	if len(v.Codecs) == 0 {
		return []string{"PCMA", "PCMU"}
	}
	out := make([]string, len(v.Codecs))
	for i, c := range v.Codecs {
		out[i] = strings.ToUpper(c)
	}
	return out
}

func (v GSMVoice) validate(field string) error {
	var errs []error
	bad := func(f, format string, a ...any) {
		errs = append(errs, fmt.Errorf("gateway.gsm.%s.%s: %s", field, f, fmt.Sprintf(format, a...)))
	}
	if v.Inbound != "" {
		if strings.HasPrefix(v.Inbound, "sip:") || strings.HasPrefix(v.Inbound, "sips:") {
			if !strings.Contains(v.Inbound, "@") || strings.ContainsAny(v.Inbound, " <>\"\r\n") || len(v.Inbound) > 256 {
				bad("inbound", "%q is not a sip: URI with user@host", v.Inbound)
			}
		} else if !gsmQueueName.MatchString(v.Inbound) {
			bad("inbound", "%q is neither a sip: URI nor a queue name (letters, digits, '_', '.', '+', '-')", v.Inbound)
		}
	}
	for j, p := range v.Allow {
		if !validGSMPattern(p) {
			bad(fmt.Sprintf("allow[%d]", j), "%q is not a number pattern (+, digits, * and ?; for example +4930*)", p)
		}
	}
	for j, p := range v.Deny {
		if !validGSMPattern(p) {
			bad(fmt.Sprintf("deny[%d]", j), "%q is not a number pattern (+, digits, * and ?)", p)
		}
	}
	if v.MaxCallsPerDay < 0 || v.MaxCallsPerDay > 100000 {
		bad("max_calls_per_day", "%d is outside 1..100000 (0: no bound)", v.MaxCallsPerDay)
	}
	if v.MaxCallSec < 0 || v.MaxCallSec > 86400 {
		bad("max_call_sec", "%d is outside 1..86400 (0: no bound)", v.MaxCallSec)
	}
	if v.RingSec < 0 || v.RingSec > 600 {
		bad("ring_sec", "%d is outside 1..600 (0: the default, 60)", v.RingSec)
	}
	if v.JitterMS < 0 || v.JitterMS > 500 || (v.JitterMS > 0 && v.JitterMS < 20) {
		bad("jitter_ms", "%d is outside 20..500 (0: the default, 60)", v.JitterMS)
	}
	for j, c := range v.Codecs {
		if u := strings.ToUpper(c); u != "PCMA" && u != "PCMU" {
			bad(fmt.Sprintf("codecs[%d]", j), "%q is not PCMA or PCMU (the card's audio is 8 kHz G.711)", c)
		}
	}
	return errors.Join(errs...)
}

// CheckDial applies the SIM's voice allow-list to a number the PBX
// dials, with the same rules as SMS (deny patterns and defaultGSMDeny
// first, international and short codes only when allowed, then allow);
// it returns the number to dial, +E.164 or a short code.
func (s GSMSIM) CheckDial(n string, index int) (string, error) {
	v := s
	v.SMS = GSMSMS{Allow: s.Voice.Allow, Deny: s.Voice.Deny, International: s.Voice.International, ShortCodes: s.Voice.ShortCodes}
	num, err := v.CheckDestination(n, index)
	var de *GSMDestinationError
	if errors.As(err, &de) {
		de.Field = strings.Replace(de.Field, ".sms", ".voice", 1)
	}
	return num, err
}
