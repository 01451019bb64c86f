package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CMEError is a "+CME ERROR" final result (3GPP TS 27.007 §9.2).
type CMEError struct {
	Code    int    // -1 when the modem sent text only
	Meaning string // from the modem (text mode) or from the 27.007 table
}

func (e *CMEError) Error() string {
	if e.Code < 0 {
		return "+CME ERROR: " + e.Meaning
	}
	return fmt.Sprintf("+CME ERROR %d (%s)", e.Code, e.Meaning)
}

// cmsError is a "+CMS ERROR" final result (3GPP TS 27.005 §3.2.5).
type cmsError struct {
	Code    int
	Meaning string
}

func (e *cmsError) Error() string {
	if e.Code < 0 {
		return "+CMS ERROR: " + e.Meaning
	}
	return fmt.Sprintf("+CMS ERROR %d (%s)", e.Code, e.Meaning)
}

// resultError is a final result other than OK that carries no code:
// ERROR, NO CARRIER, BUSY, NO ANSWER, NO DIALTONE, COMMAND NOT SUPPORT,
// TOO MANY PARAMETERS. Compare with errors.Is against the err* values.
type resultError struct{ Result string }

func (e *resultError) Error() string { return "modem answered " + e.Result }

// Is matches two ResultErrors with the same result text.
func (e *resultError) Is(target error) bool {
	t, ok := target.(*resultError)
	return ok && t.Result == e.Result
}

// Final results that are errors.
var (
	errError         = &resultError{"ERROR"}
	errNoCarrier     = &resultError{"NO CARRIER"}
	errBusy          = &resultError{"BUSY"}
	errNoAnswer      = &resultError{"NO ANSWER"}
	errNoDialtone    = &resultError{"NO DIALTONE"}
	errNotSupported  = &resultError{"COMMAND NOT SUPPORT"} // Huawei
	errTooManyParams = &resultError{"TOO MANY PARAMETERS"} // Huawei
)

// ErrTimeout matches every *timeoutError.
var ErrTimeout = errors.New("modem did not answer in time")

// timeoutError is a command that got no final result in time.
type timeoutError struct {
	Command string
	After   time.Duration
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("%s: no answer after %v", e.Command, e.After)
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }

// ErrFaulty matches the error commands get once recovery gave up.
var ErrFaulty = errors.New("modem is faulty")

// ErrSuspended is returned by commands while the engine has released the
// AT port (Suspend), e.g. to pppd on a modem without a separate data port.
var ErrSuspended = errors.New("modem AT port is released to pppd (engine suspended): no AT commands until the data call ends")

// ErrClosed is returned by commands after the engine stopped.
var ErrClosed = errors.New("modem engine stopped")

// IsCME reports whether err is a +CME ERROR with code.
func IsCME(err error, code int) bool {
	var c *CMEError
	return errors.As(err, &c) && c.Code == code
}

// CME error codes the profiles and netctl act on (27.007 §9.2; the
// text of every code is in cmeMeanings).
const (
	CMENotAllowed     = 3
	CMESIMNotInserted = 10
	CMESIMPINRequired = 11
	CMESIMPUKRequired = 12
	CMESIMBusy        = 14
	CMEIncorrectPass  = 16
	CMENoNetwork      = 30
	CMEUnknown        = 100

	cmeSIMFailure = 13
	cmeSIMWrong   = 15
)

var cmeMeanings = map[int]string{
	0: "phone failure", 1: "no connection to phone", 2: "phone-adaptor link reserved",
	3: "operation not allowed", 4: "operation not supported", 5: "PH-SIM PIN required",
	6: "PH-FSIM PIN required", 7: "PH-FSIM PUK required", 10: "SIM not inserted",
	11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
	15: "SIM wrong", 16: "incorrect password", 17: "SIM PIN2 required", 18: "SIM PUK2 required",
	20: "memory full", 21: "invalid index", 22: "not found", 23: "memory failure",
	24: "text string too long", 25: "invalid characters in text string",
	26: "dial string too long", 27: "invalid characters in dial string",
	30: "no network service", 31: "network timeout", 32: "network not allowed - emergency calls only",
	40: "network personalization PIN required", 41: "network personalization PUK required",
	42: "network subset personalization PIN required", 43: "network subset personalization PUK required",
	44: "service provider personalization PIN required", 45: "service provider personalization PUK required",
	46: "corporate personalization PIN required", 47: "corporate personalization PUK required",
	50: "incorrect parameters", 100: "unknown", 103: "illegal MS", 106: "illegal ME",
	107: "GPRS services not allowed", 111: "PLMN not allowed", 112: "location area not allowed",
	113: "roaming not allowed in this location area", 132: "service option not supported",
	133: "requested service option not subscribed", 134: "service option temporarily out of order",
	148: "unspecified GPRS error", 149: "PDP authentication failure", 150: "invalid mobile class",
	533: "missing or unknown APN",
	260: "SIM PIN required (Huawei)", 262: "SIM blocked",
}

var cmsMeanings = map[int]string{
	300: "ME failure", 301: "SMS service of ME reserved", 302: "operation not allowed",
	303: "operation not supported", 304: "invalid PDU mode parameter", 305: "invalid text mode parameter",
	310: "SIM not inserted", 311: "SIM PIN required", 312: "PH-SIM PIN required", 313: "SIM failure",
	314: "SIM busy", 315: "SIM wrong", 316: "SIM PUK required", 317: "SIM PIN2 required",
	318: "SIM PUK2 required", 320: "memory failure", 321: "invalid memory index", 322: "memory full",
	330: "SMSC address unknown", 331: "no network service", 332: "network timeout",
	340: "no +CNMA acknowledgement expected", 500: "unknown error",
}

// CMEMeaning returns the 27.007 text for a +CME ERROR code.
func CMEMeaning(code int) string {
	if m, ok := cmeMeanings[code]; ok {
		return m
	}
	return "error " + strconv.Itoa(code)
}

// cmsMeaning returns the 27.005 text for a +CMS ERROR code.
func cmsMeaning(code int) string {
	if m, ok := cmsMeanings[code]; ok {
		return m
	}
	if code < 128 {
		return "network cause " + strconv.Itoa(code)
	}
	return "error " + strconv.Itoa(code)
}

// cmeTextAliases are verbose texts other than 27.007's table that name a
// code: later 27.007 wording (149) and firmware's own (guessed forms, as
// the words differ per vendor; normalised as by errorText).
var cmeTextAliases = map[string]int{
	"sim not present": 10, "no sim": 10, "no sim card": 10, "sim card not inserted": 10, "sim removed": 10,
	"sim pin needed": 11, "pin required": 11, "sim puk needed": 12, "puk required": 12,
	"sim is busy": 14, "sim not ready": 14,
	"incorrect pin": 16, "wrong pin": 16, "wrong password": 16, "invalid password": 16, "incorrect passwd": 16,
	"no network": 30, "no service": 30, "unknown error": 100,
	"user authentication failed": 149, "unknown apn": 533, "missing or unknown apn": 533,
}

// errorText normalises a verbose error for the lookup: case, spacing,
// dashes and underscores, a trailing full stop.
func errorText(text string) string {
	t := strings.ToLower(strings.TrimSpace(text))
	t = strings.NewReplacer("_", " ", "\u2013", "-", "\u2014", "-").Replace(t)
	t = strings.TrimRight(t, ". ")
	return strings.Join(strings.Fields(t), " ")
}

// cmeCodeForText maps the verbose (AT+CMEE=2) text back to a code.
func cmeCodeForText(text string) int {
	t := errorText(text)
	for c, m := range cmeMeanings {
		if errorText(m) == t {
			return c
		}
	}
	if c, ok := cmeTextAliases[t]; ok {
		return c
	}
	return -1
}

func cmsCodeForText(text string) int {
	t := errorText(text)
	for c, m := range cmsMeanings {
		if errorText(m) == t {
			return c
		}
	}
	return -1
}

// errorCode reads the rest of a +CME/+CMS ERROR line: a number, a number
// and its words ("10 SIM not inserted", "10,\"SIM not inserted\""), or
// words only (code -1 unless byText knows them).
func errorCode(rest string, byText func(string) int, text func(int) string) (int, string) {
	rest = strings.TrimSpace(rest)
	if n, err := strconv.Atoi(rest); err == nil {
		return n, text(n)
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i > 0 && i < len(rest) && strings.ContainsRune(" ,:(", rune(rest[i])) {
		n, _ := strconv.Atoi(rest[:i])
		return n, text(n)
	}
	return byText(rest), rest
}

// FinalResult classifies line: final is true when line ends a command's
// response; err is nil for OK and CONNECT.
func FinalResult(line string) (final bool, err error) {
	l := strings.TrimSpace(line)
	// Some firmware answers in lower case ("ok", "error").
	switch strings.ToUpper(l) {
	case "OK", "CONNECT":
		return true, nil
	case "ERROR":
		return true, errError
	case "NO CARRIER":
		return true, errNoCarrier
	case "BUSY":
		return true, errBusy
	case "NO ANSWER":
		return true, errNoAnswer
	case "NO DIALTONE", "NO DIAL TONE":
		return true, errNoDialtone
	case "COMMAND NOT SUPPORT":
		return true, errNotSupported
	case "TOO MANY PARAMETERS":
		return true, errTooManyParams
	}
	if _, ok := cutPrefixFold(l, "CONNECT "); ok {
		return true, nil
	}
	if rest, ok := errorLine(l, "+CME ERROR"); ok {
		n, meaning := errorCode(rest, cmeCodeForText, CMEMeaning)
		return true, &CMEError{Code: n, Meaning: meaning}
	}
	if rest, ok := errorLine(l, "+CMS ERROR"); ok {
		n, meaning := errorCode(rest, cmsCodeForText, cmsMeaning)
		return true, &cmsError{Code: n, Meaning: meaning}
	}
	return false, nil
}

// errorLine cuts "+CME ERROR" and what follows it, ":" or not ("+CME
// ERROR 10", "+CME ERROR:10").
func errorLine(l, prefix string) (string, bool) {
	rest, ok := cutPrefixFold(l, prefix)
	if !ok {
		return "", false
	}
	if rest == "" || rest[0] == ':' || rest[0] == ' ' {
		return strings.TrimPrefix(strings.TrimSpace(rest), ":"), true
	}
	return "", false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// ConnectRefusedError is a data connection the network refused with a
// cause (^NDISSTAT, *E2NAP, +QNETDEVSTATUS, +CGEV REJECT).
type ConnectRefusedError struct {
	APN   string
	Cause string // "27 missing or unknown APN"
}

func (e *ConnectRefusedError) Error() string {
	what := "check the APN, the user name and password, and the SIM's data plan"
	switch code, _, _ := strings.Cut(e.Cause, " "); code {
	case "27":
		what = "the APN is wrong: check it against the operator's"
	case "29":
		what = "the APN's user name or password is missing or wrong: set the ones the operator gives"
	case "33":
		what = "the SIM's plan has no data on this APN, or the modem is not on the network yet"
	}
	return fmt.Sprintf("the network refused the data connection for APN %q (cause %s): %s", e.APN, e.Cause, what)
}

// NoLinkError is a data connection that never came up and was never refused.
type NoLinkError struct {
	APN   string
	After time.Duration
}

func (e *NoLinkError) Error() string {
	return fmt.Sprintf("the data connection did not come up within %v (APN %q): check the APN and the signal", e.After, e.APN)
}
