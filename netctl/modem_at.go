package netctl

import (
	"errors"
	"fmt"
	"strings"

	"edgebox/modem"
)

// The AT passthrough's one check (web and the local proxy only forward):
// a single printable command line, and nothing that costs money, moves
// calls or locks people out unless the caller passed "unsafe" (web does
// only for admin scope).

// unsafeAT are the extended commands refused without the unsafe flag:
// dialling and data calls, SMS sending, call forwarding and USSD, APN and
// credentials, radio and resets, SIM locks and PINs.
var unsafeAT = map[string]string{
	"+CMSS": "sends an SMS", "+CMGS": "sends an SMS", "+CMGW": "stores an SMS to send",
	"+CCFC": "forwards calls", "+CUSD": "sends a USSD request (may transfer credit)", "+CTFR": "forwards a call",
	"+CGDCONT": "changes the APN", "+CGAUTH": "changes the APN credentials", "+QICSGP": "changes the APN",
	"*EIAAUW": "changes the APN credentials", "+CGDATA": "starts a data call", "+CGACT": "starts or stops a data call",
	"^NDISDUP": "starts or stops a data call", "*ENAP": "starts or stops a data call", "+QNETDEVCTL": "starts or stops a data call",
	"+CFUN": "switches the radio or resets the modem", "^RESET": "resets the modem", "*E2RESET": "resets the modem",
	"^SYSCFG": "changes the radio mode", "^SYSCFGEX": "changes the radio mode", "+COPS": "changes the operator selection",
	"+QCFG": "changes the USB mode", "^SETPORT": "changes the USB mode",
	"+CLCK": "changes a SIM lock", "+CPWD": "changes a SIM password", "+CPIN": "enters or changes a SIM PIN",
	"^CPIN": "enters or changes a SIM PIN",
}

// checkAT validates a passthrough command. unsafe lets the commands of
// unsafeAT through (queries, "...?" and "...=?", always pass).
func checkAT(cmd string, unsafe bool) error {
	if len(cmd) < 2 || !strings.EqualFold(cmd[:2], "AT") || len(cmd) > 512 {
		return errors.New("command must be one line starting with AT, at most 512 characters")
	}
	for i := 0; i < len(cmd); i++ {
		if c := cmd[i]; c < 0x20 || c >= 0x7f {
			return errors.New("command must be one line of printable characters")
		}
	}
	parts, err := splitAT(cmd)
	if err != nil {
		return err
	}
	if unsafe {
		return nil
	}
	for _, p := range parts {
		if why := unsafeATPart(p); why != "" {
			return fmt.Errorf("%s %s: refused without the unsafe flag (admin only)", p.name, why)
		}
	}
	return nil
}

// atPart is one command of a command line: its name ("+CFUN", "D", "E")
// and what follows it ("=1,1", "?", "*99#").
type atPart struct{ name, rest string }

// splitAT splits "AT E0; +CFUN = 1;D*99#" into its commands the way a
// modem reads the line (V.250): spaces outside quotes ignored, upper and
// lower case alike, basic commands one after another, extended commands
// up to the next ';' outside quotes.
func splitAT(cmd string) ([]atPart, error) {
	var b strings.Builder
	inq := false
	for i := 2; i < len(cmd); i++ {
		c := cmd[i]
		if c == '"' {
			inq = !inq
		}
		if !inq && c == ' ' {
			continue
		}
		if !inq && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	if inq {
		return nil, errors.New("command has an unterminated quoted string")
	}
	s := b.String()
	var parts []atPart
	for s != "" {
		switch c := s[0]; {
		case c == ';':
			s = s[1:]
		case strings.ContainsRune("+^*$%!#", rune(c)):
			end := len(s)
			q := false
			for i := 0; i < len(s); i++ {
				if s[i] == '"' {
					q = !q
				}
				if !q && s[i] == ';' {
					end = i
					break
				}
			}
			part := s[:end]
			s = s[end:]
			n := strings.IndexAny(part, "=?")
			if n < 0 {
				n = len(part)
			}
			parts = append(parts, atPart{name: part[:n], rest: part[n:]})
		case c == 'D':
			// Dial takes the rest of the line (a ';' ends a voice dial).
			parts = append(parts, atPart{name: "D", rest: s[1:]})
			s = ""
		default:
			n := 1
			if c == '&' && len(s) > 1 {
				n = 2
			}
			for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '=' || s[n] == '?') {
				n++
			}
			parts = append(parts, atPart{name: s[:1], rest: s[1:n]})
			if c == '&' {
				parts[len(parts)-1] = atPart{name: s[:2], rest: s[2:n]}
			}
			s = s[n:]
		}
	}
	return parts, nil
}

// unsafeATPart says what p would do when it needs the unsafe flag.
func unsafeATPart(p atPart) string {
	switch p.name {
	case "D":
		return "dials"
	case "A", "A/":
		return "answers or repeats a call"
	}
	if p.rest == "?" || p.rest == "=?" {
		return "" // a query changes nothing
	}
	if why := unsafeAT[p.name]; why != "" {
		return why
	}
	return harmlessAT(p) // modem_at_safe.go
}

// redactAT hides PINs, PUKs and passwords in a command line for logs.
func redactAT(cmd string) string { return modem.RedactAT(cmd) }

// atQueryOnly reports a command line made of queries only ("AT+CSQ",
// "AT+CFUN?;+COPS?", "ATI"): nothing in it changes a setting.
func atQueryOnly(cmd string) bool {
	parts, err := splitAT(cmd)
	if err != nil {
		return false
	}
	for _, p := range parts {
		switch {
		case p.rest == "?" || p.rest == "=?":
		case p.rest == "" && p.name != "D" && (strings.HasPrefix(p.name, "+") || p.name == "I"):
			// Action or read commands without arguments: +CSQ, +CGMM.
		default:
			return false
		}
	}
	return true
}
