package config

import (
	"fmt"
	"path"
	"strings"
)

// Why an SMS destination is refused. The gateway turns them into SIP
// answers (403 with a Warning), web into REST errors.
const (
	GSMRefusedNotANumber    = "not_a_number"
	GSMRefusedPremium       = "premium"
	GSMRefusedInternational = "international"
	GSMRefusedShortCode     = "short_code"
	GSMRefusedNotAllowed    = "not_allowed"
)

// GSMDestinationError says why a destination was refused.
type GSMDestinationError struct {
	Number string // as normalised (+E.164 or the short code's digits)
	Reason string // one of GSMRefused*
	Field  string // the config field that decided
}

func (e *GSMDestinationError) Error() string {
	switch e.Reason {
	case GSMRefusedNotANumber:
		return fmt.Sprintf("%q is not a phone number (digits, optionally with a leading +)", e.Number)
	case GSMRefusedPremium:
		return fmt.Sprintf("%s is a premium or special-rate number (%s): not sent", e.Number, e.Field)
	case GSMRefusedInternational:
		return fmt.Sprintf("%s is international and %s is off: not sent", e.Number, e.Field)
	case GSMRefusedShortCode:
		return fmt.Sprintf("%s is a short code and %s is off: not sent", e.Number, e.Field)
	default:
		return fmt.Sprintf("%s matches no pattern of %s: not sent (add it there to allow it)", e.Number, e.Field)
	}
}

// NormalizeNumber turns a destination into what the modem dials: +E.164
// for national ("0151...") and international ("0049...", "+49...")
// numbers, the digits alone for short codes. ok is false for anything
// that is not digits with an optional leading +.
func (s GSMSIM) NormalizeNumber(n string) (string, bool) {
	n = strings.TrimSpace(n)
	plus := strings.HasPrefix(n, "+")
	digits := strings.TrimPrefix(n, "+")
	if digits == "" || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
		return n, false
	}
	switch {
	case plus:
		return "+" + digits, true
	case strings.HasPrefix(digits, "00"):
		return "+" + digits[2:], true
	case strings.HasPrefix(digits, "0") && len(digits) >= 7:
		return "+" + s.CountryCode + digits[1:], true
	default:
		return digits, true
	}
}

// CheckDestination applies the SIM's allow-list to n: deny patterns
// (with defaultGSMDeny) first, then international and short codes unless
// allowed, then the allow patterns; anything else is refused. It returns
// the normalised number to send to.
func (s GSMSIM) CheckDestination(n string, index int) (string, error) {
	f := fmt.Sprintf("gateway.gsm.sims[%d].sms", index)
	num, ok := s.NormalizeNumber(n)
	if !ok {
		return num, &GSMDestinationError{Number: n, Reason: GSMRefusedNotANumber, Field: f}
	}
	for _, p := range append(append([]string(nil), defaultGSMDeny...), s.SMS.Deny...) {
		if ok, _ := path.Match(p, num); ok {
			return num, &GSMDestinationError{Number: num, Reason: GSMRefusedPremium, Field: f + ".deny"}
		}
	}
	short := !strings.HasPrefix(num, "+")
	if short && !s.SMS.ShortCodes {
		return num, &GSMDestinationError{Number: num, Reason: GSMRefusedShortCode, Field: f + ".short_codes"}
	}
	if !short && !strings.HasPrefix(num, "+"+s.CountryCode) && !s.SMS.International {
		return num, &GSMDestinationError{Number: num, Reason: GSMRefusedInternational, Field: f + ".international"}
	}
	for _, p := range s.SMS.Allow {
		if ok, _ := path.Match(p, num); ok {
			return num, nil
		}
	}
	return num, &GSMDestinationError{Number: num, Reason: GSMRefusedNotAllowed, Field: f + ".allow"}
}

// PremiumRange tells whether n (a +E.164 number) is in one of the premium
// and special-rate ranges every SIM's allow-list refuses (defaultGSMDeny),
// for senders that have no allow-list of their own.
func PremiumRange(n string) bool {
	for _, p := range defaultGSMDeny {
		if ok, _ := path.Match(p, n); ok {
			return true
		}
	}
	return false
}
