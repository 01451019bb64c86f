package config

import (
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
)

// GatewayGSM is the GSM bridge of the gateway (issue 19): the SIMs in the
// box's modem slots, where their SMS go, what the PBX may send through
// them, and the TG200-compatible AMI for SMS. Off by default.
type GatewayGSM struct {
	Enabled bool `json:"enabled"`
	// Domain is the host part of the From of SMS the box passes to the
	// PBX (sip:+SENDER@Domain); empty means the box's address toward the
	// PBX.
	Domain string `json:"domain,omitempty"`
	// SIMs are the SIMs or slots, one per modem slot; the first one sends
	// what names no slot.
	SIMs []GSMSIM `json:"sims,omitempty"`
	// StoreDir holds received SMS and delivery reports until the PBX or
	// the webhook took them; empty means /perm/edgebox/gsm-sms.
	StoreDir string `json:"store_dir,omitempty"`
	// StoreMax bounds the messages held undelivered; 0 means
	// DefaultGSMStoreMax. When it is full the box leaves new SMS in the
	// modem's store (netctl keeps them) and says so in its log.
	StoreMax int `json:"store_max,omitempty"`
	// RetrySec is the first wait before a failed delivery is tried again;
	// it doubles up to ten minutes. 0 means 10.
	RetrySec int    `json:"retry_sec,omitempty"`
	AMI      GSMAMI `json:"ami"`
}

// GSMSIM is one SIM (one modem slot): its identity, its SMS routing and
// its limits.
type GSMSIM struct {
	// Slot names the modem slot: as netctl's GSM API reports it
	// ("mpcie1", "mpcie2": network.modem.slot and voice_modems[].slot),
	// or by its number alone ("1", "2").
	Slot string `json:"slot"`
	// Number is the SIM's own number in E.164 (+4915...), the identity
	// put in To; empty means the number netctl reads from the SIM, or its
	// IMSI when the SIM stores no number.
	Number string `json:"number,omitempty"`
	// CountryCode is the home country calling code without + ("49"):
	// national numbers (0151...) are completed with it, and anything
	// else counts as international.
	CountryCode string `json:"country_code"`
	// AMISpan is the GsmSpan this SIM has in the AMI (a TG200's first
	// GSM port is span 2); 0 means 2 + the SIM's index.
	AMISpan int    `json:"ami_span,omitempty"`
	SMS     GSMSMS `json:"sms"`
	// Voice is the SIM's call routing and limits: gsm_voice.go.
	Voice GSMVoice `json:"voice"`
}

// GSMSMS is where a SIM's received SMS go and what may be sent through it.
type GSMSMS struct {
	// MessageURI is the Request-URI of the SIP MESSAGE a received SMS
	// becomes ("sip:sms@pbx.example.com"); empty: no MESSAGE.
	MessageURI string `json:"message_uri,omitempty"`
	// WebhookURL receives each SMS and delivery report as JSON, signed
	// with HMAC-SHA256 of WebhookSecret (docs/gsm-gateway.md); empty: none.
	WebhookURL    string `json:"webhook_url,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// Allow lists the destinations the PBX, the AMI and the REST API may
	// send SMS to: E.164 patterns with * and ? ("+4915*", "+4917?????????").
	// Anything else is refused (deny by default).
	Allow []string `json:"allow"`
	// Deny is checked before Allow; defaultGSMDeny (premium and
	// special-rate ranges) is always added.
	Deny []string `json:"deny,omitempty"`
	// International lets Allow patterns match numbers outside
	// CountryCode; without it they are refused whatever Allow says.
	International bool `json:"international,omitempty"`
	// ShortCodes lets Allow patterns match short codes (numbers of fewer
	// than 7 digits, no +), which are often premium services.
	ShortCodes bool `json:"short_codes,omitempty"`
	// RatePerMinute bounds the SMS sent through this SIM; 0 means
	// defaultGSMRatePerMinute. Burst is how many may go at once (0: 3).
	RatePerMinute int `json:"rate_per_minute,omitempty"`
	Burst         int `json:"burst,omitempty"`
}

// GSMAMI is the TG200-compatible manager interface for SMS (TCP 5038):
// LAN and VPN interfaces and loopback only, never an uplink.
type GSMAMI struct {
	Enabled bool `json:"enabled"`
	// Port is the TCP port; 0 means 5038.
	Port int `json:"port,omitempty"`
	// Interfaces are the LAN/VPN interface patterns it listens on; empty
	// means web.interfaces' defaults (lan*, br-lan*, tun*, tap*).
	// Loopback is always served.
	Interfaces []string     `json:"interfaces,omitempty"`
	Users      []GSMAMIUser `json:"users,omitempty"`
	// MaxLoginFailures from one address within ten minutes lock that
	// address out for ten minutes; 0 means 5.
	MaxLoginFailures int `json:"max_login_failures,omitempty"`
}

// GSMAMIUser is one AMI account (Username and Secret, as the TG200 had).
type GSMAMIUser struct {
	Username string `json:"username"`
	Secret   string `json:"secret"`
	// Read are the event classes the user receives, as Asterisk's
	// manager.conf "read =": "sms" (or "smscommand", the class the
	// events name) for ReceivedSMS, "all" for every class. A user whose
	// Read lists neither gets no received SMS, as Asterisk sends no class
	// a user was not granted: the SMS go to the accounts meant for them,
	// not to every login.
	Read []string `json:"read,omitempty"`
}

// AMIReadClasses are the classes GSMAMIUser.Read may list.
var AMIReadClasses = []string{"sms", "smscommand", "all"}

// ReadsSMS says whether the user is granted the received SMS.
func (u GSMAMIUser) ReadsSMS() bool {
	return slices.ContainsFunc(u.Read, func(c string) bool { return c == "sms" || c == "smscommand" || c == "all" })
}

// Defaults of the GSM bridge.
const (
	DefaultGSMStoreMax      = 1000
	defaultGSMRatePerMinute = 6
	DefaultAMIPort          = 5038
)

// defaultGSMDeny are premium and special-rate ranges no allow pattern
// opens: German 0900/0137/0138/118xx, UK 09, US/NANP 900/976, French 08 9.
var defaultGSMDeny = []string{"+49900*", "+49137*", "+49138*", "+49118*", "+449*", "+1900*", "+1976*", "+3389*"}

// RatePerMinuteOrDefault is RatePerMinute with its default.
func (s GSMSMS) RatePerMinuteOrDefault() int {
	if s.RatePerMinute <= 0 {
		return defaultGSMRatePerMinute
	}
	return s.RatePerMinute
}

// BurstOrDefault is Burst with its default.
func (s GSMSMS) BurstOrDefault() int {
	if s.Burst <= 0 {
		return 3
	}
	return s.Burst
}

// Span is the SIM's AMI GsmSpan, i its index in gsm.sims.
func (s GSMSIM) Span(i int) int {
	if s.AMISpan > 0 {
		return s.AMISpan
	}
	return 2 + i
}

// SIM returns the SIM for slot ("" = the first) and its index.
func (g GatewayGSM) SIM(slot string) (GSMSIM, int, bool) {
	for i, s := range g.SIMs {
		if slot == "" || s.InSlot(slot) {
			return s, i, true
		}
	}
	return GSMSIM{}, -1, false
}

// InSlot says whether the SIM is the one of slot, either spelt by name
// ("mpcie2") or by number ("2").
func (s GSMSIM) InSlot(slot string) bool {
	num := func(x string) string { return strings.TrimPrefix(x, "mpcie") }
	return slot != "" && num(s.Slot) == num(slot)
}

// SIMBySpan returns the SIM with AMI GsmSpan span.
func (g GatewayGSM) SIMBySpan(span int) (GSMSIM, int, bool) {
	for i, s := range g.SIMs {
		if s.Span(i) == span {
			return s, i, true
		}
	}
	return GSMSIM{}, -1, false
}

var (
	gsmSlotName = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$`)
	gsmE164     = lazyregexp.New(`^\+[1-9][0-9]{5,14}$`)
	gsmCC       = lazyregexp.New(`^[1-9][0-9]{0,2}$`)
	gsmPattern  = lazyregexp.New(`^\+?[0-9*?\[\]-]{1,20}$`)
	amiUser     = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,31}$`)
)

// Validate reports what is wrong with the gsm part of the gateway
// section, naming fields.
func (g GatewayGSM) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("gateway.gsm.%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if g.Enabled && len(g.SIMs) == 0 {
		bad("sims", "list at least one SIM (slot, country_code) to enable the GSM bridge")
	}
	if g.StoreMax < 0 || g.StoreMax > 100000 {
		bad("store_max", "%d is outside 1..100000 (0: the default, %d)", g.StoreMax, DefaultGSMStoreMax)
	}
	if g.RetrySec < 0 || g.RetrySec > 3600 {
		bad("retry_sec", "%d is outside 1..3600 (0: the default, 10)", g.RetrySec)
	}
	if g.Domain != "" && !validDNSName(g.Domain) && !isIPLiteral(g.Domain) {
		bad("domain", "%q is not a host name or IP address", g.Domain)
	}
	slots, spans := map[string]int{}, map[int]int{}
	for i, s := range g.SIMs {
		f := fmt.Sprintf("sims[%d]", i)
		if !gsmSlotName.MatchString(s.Slot) {
			bad(f+".slot", "%q is not a slot name (letters, digits, '-', '_'; for example \"1\")", s.Slot)
		} else if j, dup := slots[s.Slot]; dup {
			bad(f+".slot", "slot %q is already sims[%d]: each slot once", s.Slot, j)
		}
		slots[s.Slot] = i
		if j, dup := spans[s.Span(i)]; dup {
			bad(f+".ami_span", "span %d is already sims[%d]'s: give each SIM its own ami_span", s.Span(i), j)
		}
		spans[s.Span(i)] = i
		if s.AMISpan < 0 || s.AMISpan > 255 {
			bad(f+".ami_span", "%d is outside 1..255", s.AMISpan)
		}
		if s.Number != "" && !gsmE164.MatchString(s.Number) {
			bad(f+".number", "%q is not an E.164 number (+ and 6 to 15 digits)", s.Number)
		}
		if !gsmCC.MatchString(s.CountryCode) {
			bad(f+".country_code", "%q is not a country calling code (1 to 3 digits without +, for example 49)", s.CountryCode)
		}
		m := s.SMS
		if m.MessageURI != "" {
			if u, err := url.Parse(m.MessageURI); err != nil || (u.Scheme != "sip" && u.Scheme != "sips") || !strings.Contains(m.MessageURI, "@") || strings.ContainsAny(m.MessageURI, " <>\"\r\n") {
				bad(f+".sms.message_uri", "%q is not a sip: URI with user@host", m.MessageURI)
			}
		}
		if m.WebhookURL != "" {
			u, err := url.Parse(m.WebhookURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad(f+".sms.webhook_url", "%q is not an http(s) URL", m.WebhookURL)
			}
			if len(m.WebhookSecret) < 16 {
				bad(f+".sms.webhook_secret", "at least 16 characters are needed to sign the webhook's body")
			}
		}
		for j, p := range m.Allow {
			if !validGSMPattern(p) {
				bad(fmt.Sprintf("%s.sms.allow[%d]", f, j), "%q is not a number pattern (+, digits, * and ?; for example +4915*)", p)
			}
		}
		for j, p := range m.Deny {
			if !validGSMPattern(p) {
				bad(fmt.Sprintf("%s.sms.deny[%d]", f, j), "%q is not a number pattern (+, digits, * and ?)", p)
			}
		}
		if m.RatePerMinute < 0 || m.RatePerMinute > 600 {
			bad(f+".sms.rate_per_minute", "%d is outside 1..600 (0: the default, %d)", m.RatePerMinute, defaultGSMRatePerMinute)
		}
		if m.Burst < 0 || m.Burst > 100 {
			bad(f+".sms.burst", "%d is outside 1..100 (0: the default, 3)", m.Burst)
		}
		errs = append(errs, s.Voice.validate(f+".voice"))
	}
	errs = append(errs, g.AMI.validate())
	return errors.Join(errs...)
}

func (a GSMAMI) validate() error {
	var errs []error
	bad := func(field, format string, x ...any) {
		errs = append(errs, fmt.Errorf("gateway.gsm.ami.%s: %s", field, fmt.Sprintf(format, x...)))
	}
	if a.Port < 0 || a.Port > 65535 {
		bad("port", "%d is not a TCP port", a.Port)
	}
	if a.Enabled && len(a.Users) == 0 {
		bad("users", "add a user (username, secret) to enable the AMI")
	}
	names := map[string]bool{}
	for i, u := range a.Users {
		if !amiUser.MatchString(u.Username) || names[u.Username] {
			bad(fmt.Sprintf("users[%d].username", i), "%q must be a unique name (letters, digits, '.', '_', '-', '@')", u.Username)
		}
		names[u.Username] = true
		if len(u.Secret) < 8 || strings.ContainsAny(u.Secret, "\r\n") {
			bad(fmt.Sprintf("users[%d].secret", i), "at least 8 characters, on one line")
		}
		for j, c := range u.Read {
			if !slices.Contains(AMIReadClasses, c) {
				bad(fmt.Sprintf("users[%d].read[%d]", i, j), "%q is not an event class: use sms (received SMS) or all", c)
			}
		}
	}
	for i, p := range a.Interfaces {
		if _, err := path.Match(p, "x"); err != nil || p == "" || len(p) > 15 || strings.ContainsAny(p, "/ \t") {
			bad(fmt.Sprintf("interfaces[%d]", i), "%q is not an interface name or pattern", p)
		}
	}
	if a.MaxLoginFailures < 0 || a.MaxLoginFailures > 100 {
		bad("max_login_failures", "%d is outside 1..100 (0: the default, 5)", a.MaxLoginFailures)
	}
	return errors.Join(errs...)
}

func validGSMPattern(p string) bool {
	if !gsmPattern.MatchString(p) {
		return false
	}
	_, err := path.Match(p, "")
	return err == nil
}

func isIPLiteral(s string) bool {
	_, err := ParsePrefixOrIP(s)
	return err == nil && !strings.Contains(s, "/")
}
