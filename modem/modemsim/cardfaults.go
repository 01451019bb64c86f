package modemsim

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"edgebox/modem"
)

// Cards as they differ from the 27.007 text: line ends other than CR LF,
// answers that reach the box in pieces, verbose error text whatever
// AT+CMEE says, operator names in UCS-2 hex, registration with unquoted
// hex, signal not known while registered, and a SIM swapped while the
// card runs.

// CardHelp lists the control commands of cardfaults.go.
const CardHelp = `eol crlf|cr|lf        lines end with CR LF (default), CR only or LF only
split MS             every write reaches the box in two pieces, MS milliseconds apart (0: off)
verbose on|off       +CME ERROR as text whatever AT+CMEE says (a card that ignores AT+CMEE=1)
opucs2 on|off        +COPS? names the operator in UCS-2 hex whatever AT+CSCS says (Huawei firmware)
cregraw on|off       +CREG/+CGREG/+CEREG with unquoted hex LAC/cell ids of digits only (1234,01234567)
nosignal on|off      registered, but every signal query answers 'not known' (99 / 255 / NOSERVICE)
reboot quiet         reboot without boot URCs (lost while the USB port re-enumerated): echo on, settings gone
simswap ICCID PIN    a different SIM is in the slot, locked with PIN (hot swap: no 'not inserted' between)`

// cardFault is the state of those faults (guarded by Sim.mu).
type cardFault struct {
	eol      string // "" = CR LF
	split    time.Duration
	verbose  bool
	opUCS2   bool
	cregRaw  bool
	noSignal bool
	// quietBoot: the boot URCs of the next reboot are lost.
	quietBoot bool
}

// SetLineEnd makes lines end with "\r\n", "\r" or "\n".
func (s *Sim) SetLineEnd(eol string) error {
	switch eol {
	case "\r\n", "\r", "\n":
	default:
		return fmt.Errorf("line end %q: want CR LF, CR or LF", eol)
	}
	s.mu.Lock()
	s.cards.eol = eol
	s.mu.Unlock()
	return nil
}

// SplitWrites makes every write reach the box in two pieces, d apart, as
// a card behind a slow or congested USB link delivers an answer.
func (s *Sim) SplitWrites(d time.Duration) {
	s.mu.Lock()
	s.cards.split = d
	s.mu.Unlock()
}

// VerboseErrors makes +CME ERROR come as text whatever AT+CMEE says.
func (s *Sim) VerboseErrors(on bool) { s.setCard(func(c *cardFault) { c.verbose = on }) }

// OperatorUCS2 makes +COPS? name the operator in UCS-2 hex.
func (s *Sim) OperatorUCS2(on bool) { s.setCard(func(c *cardFault) { c.opUCS2 = on }) }

// RawRegistration makes registration lines carry unquoted hex ids made
// of digits only, so they look like decimal fields.
func (s *Sim) RawRegistration(on bool) { s.setCard(func(c *cardFault) { c.cregRaw = on }) }

// NoSignal makes every signal query answer "not known" while registered,
// as cards do during cell reselection.
func (s *Sim) NoSignal(on bool) { s.setCard(func(c *cardFault) { c.noSignal = on }) }

func (s *Sim) setCard(f func(*cardFault)) {
	s.mu.Lock()
	f(&s.cards)
	s.mu.Unlock()
}

// SwapSIM puts a different SIM in the slot while the card runs, locked
// with pin; the card reports only "+CPIN: SIM PIN" (no "not inserted"
// first, as cards that poll the SIM seldom never see the slot empty).
func (s *Sim) SwapSIM(iccid, pin string) error {
	if !regexp.MustCompile(`^[0-9]{18,20}$`).MatchString(iccid) || !regexp.MustCompile(`^[0-9]{4,8}$`).MatchString(pin) {
		return errors.New("simswap: want 'simswap ICCID PIN' (18-20 digits, 4-8 digits)")
	}
	s.mu.Lock()
	s.cfg.ICCID = iccid
	s.simPresent = true
	s.pinEnabled, s.pin, s.simUnlocked = true, pin, false
	s.pinLeft, s.pukLeft = 3, 10
	s.pinLagUntil = time.Time{}
	s.dropLocked() // the SIM refresh ends the data call, with its URC
	s.urcLocked("+CPIN: SIM PIN")
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
	return nil
}

// RebootQuietly reboots the card with its boot URCs lost, as when they
// were sent while the USB port was still re-enumerating: the box sees
// only that echo is on again and its settings are gone.
func (s *Sim) RebootQuietly() {
	s.mu.Lock()
	s.cards.quietBoot = true
	s.powerOn(true)
	s.mu.Unlock()
	s.flush()
}

// shapeWrite applies the line-end fault to one write.
func (s *Sim) shapeWrite(b string) (string, time.Duration) {
	s.mu.Lock()
	eol, split := s.cards.eol, s.cards.split
	s.mu.Unlock()
	if eol != "" && eol != "\r\n" {
		b = strings.ReplaceAll(b, "\r\n", eol)
		if eol == "\n" {
			// The echo of a command ends with its CR: on an LF card
			// the echo ends with LF as well.
			b = strings.ReplaceAll(b, "\r", "\n")
		}
	}
	return b, split
}

// cardReplyLocked rewrites a reply as the faulty card words it.
func (s *Sim) cardReplyLocked(r *reply) {
	c := s.cards
	if c.verbose {
		if rest, ok := strings.CutPrefix(r.final, "+CME ERROR: "); ok {
			if n, err := strconv.Atoi(rest); err == nil {
				r.final = "+CME ERROR: " + modem.CMEMeaning(n)
			}
		}
	}
	for i, l := range r.lines {
		switch {
		case c.opUCS2 && strings.HasPrefix(l, "+COPS: "):
			r.lines[i] = ucs2Operator(l)
		case c.cregRaw && isRegLine(l):
			r.lines[i] = rawReg(l)
		case c.noSignal:
			if u, ok := unknownSignal(l); ok {
				r.lines[i] = u
			}
		}
	}
}

// cardURCLocked rewrites an unsolicited line as the faulty card words it.
func (s *Sim) cardURCLocked(line string) string {
	if s.cards.cregRaw && isRegLine(line) {
		return rawReg(line)
	}
	return line
}

var copsName = regexp.MustCompile(`^(\+COPS: \d+,\d+,)"([^"]*)"(.*)$`)

func ucs2Operator(l string) string {
	m := copsName.FindStringSubmatch(l)
	if m == nil {
		return l
	}
	var b strings.Builder
	for _, u := range utf16.Encode([]rune(m[2])) {
		fmt.Fprintf(&b, "%04X", u)
	}
	return m[1] + `"` + b.String() + `"` + m[3]
}

func isRegLine(l string) bool {
	return strings.HasPrefix(l, "+CREG: ") || strings.HasPrefix(l, "+CGREG: ") || strings.HasPrefix(l, "+CEREG: ")
}

// rawReg replaces the quoted ids with unquoted hex of digits only: a LAC
// 0x1234 and a cell 0x01234567, as Huawei and Sierra firmware print them.
func rawReg(l string) string {
	l = strings.Replace(l, `"00C3"`, "1234", 1)
	return strings.Replace(l, `"0000A13F"`, "01234567", 1)
}

// unknownSignal is line with every measurement "not known".
func unknownSignal(l string) (string, bool) {
	switch {
	case strings.HasPrefix(l, "+CSQ: "):
		return "+CSQ: 99,99", true
	case strings.HasPrefix(l, "+CESQ: "):
		return "+CESQ: 99,99,255,255,255,255", true
	case strings.HasPrefix(l, "^HCSQ: "):
		return `^HCSQ: "NOSERVICE"`, true
	case strings.HasPrefix(l, "+QCSQ: "):
		return `+QCSQ: "NOSERVICE"`, true
	}
	return "", false
}

// cardControl runs the control commands of CardHelp.
func (s *Sim) cardControl(f []string) (out string, handled bool, err error) {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	onOff := func(set func(bool)) error {
		switch arg(1) {
		case "on", "off":
			set(arg(1) == "on")
			return nil
		}
		return fmt.Errorf("%s: want on or off", f[0])
	}
	switch f[0] {
	case "eol":
		m := map[string]string{"crlf": "\r\n", "cr": "\r", "lf": "\n"}
		eol, ok := m[arg(1)]
		if !ok {
			return "", true, errors.New("eol: want crlf, cr or lf")
		}
		return "", true, s.SetLineEnd(eol)
	case "split":
		ms, err := strconv.Atoi(arg(1))
		if err != nil || ms < 0 || ms > 10000 {
			return "", true, errors.New("split: want 'split MS' with MS 0..10000")
		}
		s.SplitWrites(time.Duration(ms) * time.Millisecond)
	case "verbose":
		return "", true, onOff(s.VerboseErrors)
	case "opucs2":
		return "", true, onOff(s.OperatorUCS2)
	case "cregraw":
		return "", true, onOff(s.RawRegistration)
	case "nosignal":
		return "", true, onOff(s.NoSignal)
	case "simswap":
		return "", true, s.SwapSIM(arg(1), arg(2))
	default:
		return "", false, nil
	}
	return "", true, nil
}
