package modem

// Voice call control (issue 19): parsers for the 3GPP 27.007 call URCs and
// answers (RING, +CRING, +CLIP, +CLCC, NO CARRIER/BUSY/NO ANSWER, +CEER)
// and the Modem's call commands. Vendor set-up of the voice path is in
// voice_vendors.go; SMS status reports in sms_report.go.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Call states (+CLCC <stat>), the same words netapi shows.
const (
	CallActive   = "active"
	CallHeld     = "held"
	CallDialing  = "dialing"
	CallAlerting = "alerting"
	CallIncoming = "incoming"
	CallWaiting  = "waiting"
)

// End reasons of a call, the same words netapi shows.
const (
	EndBusy          = "busy"
	EndNoAnswer      = "no_answer"
	EndNoCarrier     = "no_carrier"
	EndNoNetwork     = "no_network"
	EndInvalidNumber = "invalid_number"
	EndRemoteHangup  = "remote_hangup"
	EndLocalHangup   = "local_hangup"
	EndError         = "error"
)

// Call is one line of +CLCC.
type Call struct {
	Index      int
	Incoming   bool   // <dir> 1: mobile terminated
	State      string // Call* value
	Mode       int    // 0 voice, 1 data, 2 fax, 9 unknown
	Multiparty bool
	Number     string // "" when not known or withheld
	NumberType int    // 145 international, 129 national/unknown; -1 absent
}

var clccStates = map[int]string{0: CallActive, 1: CallHeld, 2: CallDialing, 3: CallAlerting, 4: CallIncoming, 5: CallWaiting}

// ParseCLCC parses the lines of AT+CLCC (each "+CLCC: <idx>,<dir>,<stat>,
// <mode>,<mpty>[,<number>,<type>[,<alpha>[,<priority>]]]"). Lines of
// other commands are skipped; no line means no call.
func ParseCLCC(lines []string) ([]Call, error) {
	var out []Call
	for _, l := range lines {
		rest, ok := cutPrefixFold(strings.TrimSpace(l), "+CLCC:")
		if !ok {
			continue
		}
		f := Fields(rest)
		if len(f) < 5 {
			return out, fmt.Errorf("+CLCC: want at least 5 fields in %q", l)
		}
		var n [5]int
		for i := 0; i < 5; i++ {
			v, err := strconv.Atoi(f[i])
			if err != nil {
				return out, fmt.Errorf("+CLCC: field %d of %q is not a number", i+1, l)
			}
			n[i] = v
		}
		st, ok := clccStates[n[2]]
		if !ok || n[0] < 1 || (n[1] != 0 && n[1] != 1) {
			return out, fmt.Errorf("+CLCC: bad index, direction or state in %q", l)
		}
		c := Call{Index: n[0], Incoming: n[1] == 1, State: st, Mode: n[3], Multiparty: n[4] == 1, NumberType: -1}
		if len(f) >= 6 {
			c.Number = f[5]
		}
		if len(f) >= 7 && f[6] != "" {
			if t, err := strconv.Atoi(f[6]); err == nil {
				c.NumberType = t
			}
		}
		c.Number = internationalNumber(c.Number, c.NumberType)
		out = append(out, c)
	}
	return out, nil
}

// internationalNumber adds the "+" a type-145 number lacks: modems differ
// in whether they print it.
func internationalNumber(n string, typ int) string {
	if typ == 145 && n != "" && !strings.HasPrefix(n, "+") {
		return "+" + n
	}
	return n
}

// clip is the caller's identity of "+clip: <number>,<type>[,<subaddr>,
// <satype>[,[<alpha>][,<CLI validity>]]]".
type clip struct {
	Number string
	Type   int
	// Validity is <CLI validity>: 0 valid, 1 withheld by the caller, 2
	// not available (network interworking, payphone...); -1 absent.
	Validity int
	// Withheld is true when no number is shown, whatever the cause;
	// Reason says "withheld" or "unavailable" then.
	Withheld bool
	Reason   string
}

// parseCLIP parses what follows "+CLIP:".
func parseCLIP(s string) (clip, error) {
	f := Fields(s)
	if len(f) < 2 {
		return clip{}, fmt.Errorf("+CLIP: want number and type in %q", s)
	}
	c := clip{Number: f[0], Validity: -1}
	t, err := strconv.Atoi(f[1])
	if err != nil {
		return clip{}, fmt.Errorf("+CLIP: type %q is not a number", f[1])
	}
	c.Type = t
	if len(f) >= 6 && f[5] != "" {
		v, err := strconv.Atoi(f[5])
		if err != nil || v < 0 || v > 2 {
			return clip{}, fmt.Errorf("+CLIP: bad CLI validity %q", f[5])
		}
		c.Validity = v
	}
	c.Number = internationalNumber(c.Number, c.Type)
	switch {
	case c.Validity == 1:
		c.Withheld, c.Reason, c.Number = true, "withheld", ""
	case c.Validity == 2:
		c.Withheld, c.Reason, c.Number = true, "unavailable", ""
	case c.Number == "":
		// No validity field (older cards): an empty number is all we
		// know; treat it as withheld.
		c.Withheld, c.Reason = true, "withheld"
	}
	return c, nil
}

// parseCRING returns the call type of "+CRING: VOICE" (AT+CRC=1).
func parseCRING(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// endReasonOf maps a call-ending result line (a URC after ATD...; or
// while a call is up, or the final result of ATD) to an End* reason.
func endReasonOf(line string) (string, bool) {
	switch strings.ToUpper(strings.TrimSpace(line)) {
	case "BUSY":
		return EndBusy, true
	case "NO ANSWER":
		return EndNoAnswer, true
	case "NO CARRIER":
		return EndNoCarrier, true
	case "NO DIALTONE", "NO DIAL TONE":
		return EndNoNetwork, true
	}
	return "", false
}

// causeReason maps a 3GPP 24.008 call control cause (Huawei ^CEND
// <cc_cause>, +CEER) to an End* reason; "" when the cause says nothing
// the gateway could use (normal clearing: the caller decides remote or
// local).
func causeReason(cause int) string {
	switch cause {
	case 17: // user busy
		return EndBusy
	case 18, 19: // no user responding; user alerting, no answer
		return EndNoAnswer
	case 1, 3, 22, 28: // unassigned number; no route; number changed; invalid format
		return EndInvalidNumber
	case 27, 34, 38, 41, 42, 44, 47: // out of order, no circuit, network out of order, congestion
		return EndNoNetwork
	case 16, 31: // normal clearing, normal unspecified
		return ""
	}
	return ""
}

// ceerWords are the 24.008 cause names cards print in +CEER.
var ceerWords = []struct {
	word, reason string
}{
	{"busy", EndBusy},
	{"no answer", EndNoAnswer},
	{"no user responding", EndNoAnswer},
	{"unassigned", EndInvalidNumber},
	{"unallocated", EndInvalidNumber},
	{"invalid number", EndInvalidNumber},
	{"no route to destination", EndInvalidNumber},
	{"no circuit", EndNoNetwork},
	{"network out of order", EndNoNetwork},
	{"congestion", EndNoNetwork},
	{"no service", EndNoNetwork},
}

// ParseCEER reads the reason of the last call failure from AT+CEER's
// answer. The text is vendor-specific ("+CEER: CC CAUSE 17 ...",
// "+CEER: \"User busy\""): a number, when present, is taken as a 24.008
// cause; else the cause names are matched. "" when nothing is known.
func ParseCEER(lines []string) string {
	for _, l := range lines {
		rest, ok := cutPrefixFold(strings.TrimSpace(l), "+CEER:")
		if !ok {
			continue
		}
		low := strings.ToLower(rest)
		for _, w := range ceerWords {
			if strings.Contains(low, w.word) {
				return w.reason
			}
		}
		for _, tok := range strings.FieldsFunc(low, func(r rune) bool { return r < '0' || r > '9' }) {
			if n, err := strconv.Atoi(tok); err == nil {
				if r := causeReason(n); r != "" {
					return r
				}
			}
		}
	}
	return ""
}

// parseCDSI parses what follows "+CDSI:" (<mem>,<index>): a status report
// stored in mem (AT+CNMI ds=2).
func parseCDSI(s string) (mem string, index int, err error) {
	return parseCMTI(s)
}

// VoiceEvent kinds.
const (
	VoiceRing      = "ring"      // RING / +CRING: VOICE
	VoiceCLIP      = "clip"      // +CLIP: caller's number
	VoiceEnded     = "ended"     // NO CARRIER / BUSY / NO ANSWER / ^CEND
	VoiceDialing   = "dialing"   // Huawei ^ORIG: the MO call is set up
	VoiceAlerting  = "alerting"  // Huawei ^CONF: ringback
	VoiceConnected = "connected" // Huawei ^CONN
	VoiceDTMF      = "dtmf"      // a received DTMF digit (Quectel +QTONEDET)
	VoiceReport    = "report"    // +CDS: an SMS status report (PDU mode)
	VoiceReportAt  = "report-stored"
)

// VoiceEvent is one call or delivery-report URC, decoded.
type VoiceEvent struct {
	Kind     string
	Call     int // call index when the URC gives it (Huawei); else 0
	Number   string
	Withheld bool
	Reason   string // VoiceEnded: End* reason ("" when only "normal"); VoiceCLIP: withheld/unavailable
	Cause    int    // Huawei ^CEND <cc_cause>; -1 unknown
	Digit    string // VoiceDTMF
	Report   *StatusReport
	Mem      string // VoiceReportAt: where AT+CMGR reads it
	Index    int
	Time     time.Time
}

// ParseVoiceURC decodes u when it is about calls or SMS status reports.
func ParseVoiceURC(u URC) (VoiceEvent, bool) {
	if u.Engine != "" {
		return VoiceEvent{}, false
	}
	line := strings.TrimSpace(u.Line)
	ev := VoiceEvent{Time: u.Time, Cause: -1}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if r, ok := endReasonOf(line); ok {
		ev.Kind, ev.Reason = VoiceEnded, r
		return ev, true
	}
	rest := afterColon(line)
	switch urcName(line) {
	case "RING":
		ev.Kind = VoiceRing
	case "+CRING":
		if t := parseCRING(rest); t != "VOICE" && !strings.HasPrefix(t, "VOICE") {
			return VoiceEvent{}, false // data or fax call: not ours
		}
		ev.Kind = VoiceRing
	case "+CLIP":
		c, err := parseCLIP(rest)
		if err != nil {
			return VoiceEvent{}, false
		}
		ev.Kind, ev.Number, ev.Withheld, ev.Reason = VoiceCLIP, c.Number, c.Withheld, c.Reason
	case "^ORIG", "^CONF", "^CONN":
		f := Fields(rest)
		if len(f) < 1 {
			return VoiceEvent{}, false
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return VoiceEvent{}, false
		}
		ev.Call = idx
		ev.Kind = map[string]string{"^ORIG": VoiceDialing, "^CONF": VoiceAlerting, "^CONN": VoiceConnected}[urcName(line)]
	case "^CEND":
		// ^CEND: <call_x>,<duration>,<end_status>[,<cc_cause>]
		f := Fields(rest)
		if len(f) < 3 {
			return VoiceEvent{}, false
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return VoiceEvent{}, false
		}
		ev.Kind, ev.Call = VoiceEnded, idx
		if len(f) >= 4 {
			if c, err := strconv.Atoi(f[3]); err == nil {
				ev.Cause = c
				ev.Reason = causeReason(c)
			}
		}
	case "+QTONEDET":
		// +QTONEDET: <ASCII code of the digit> (AT+QTONEDET=1).
		n, err := strconv.Atoi(strings.TrimSpace(rest))
		if err != nil || !validDTMF(byte(n)) {
			return VoiceEvent{}, false
		}
		ev.Kind, ev.Digit = VoiceDTMF, string(rune(n))
	case "+CDS":
		if u.PDU == "" {
			return VoiceEvent{}, false
		}
		r, err := decodeStatusReport(u.PDU)
		if err != nil {
			return VoiceEvent{}, false
		}
		ev.Kind, ev.Report = VoiceReport, &r
	case "+CDSI":
		mem, idx, err := parseCDSI(rest)
		if err != nil {
			return VoiceEvent{}, false
		}
		ev.Kind, ev.Mem, ev.Index = VoiceReportAt, mem, idx
	default:
		return VoiceEvent{}, false
	}
	return ev, true
}

func validDTMF(c byte) bool {
	return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D')
}

// CheckDialNumber accepts "+" and digits only (1 to 20 digits): nothing
// that could change ATD's meaning (";", "I", "G", ">" memory dialling).
func CheckDialNumber(n string) error {
	s := strings.TrimPrefix(n, "+")
	if s == "" || len(s) > 20 {
		return fmt.Errorf("phone number %q: want 1 to 20 digits with an optional leading +", n)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("phone number %q: only digits and a leading + are allowed", n)
		}
	}
	return nil
}

// CheckDTMF accepts 1 to 32 of 0-9 * # A-D.
func CheckDTMF(digits string) error {
	if digits == "" || len(digits) > 32 {
		return fmt.Errorf("DTMF %q: want 1 to 32 digits", digits)
	}
	for i := 0; i < len(digits); i++ {
		if !validDTMF(digits[i]) {
			return fmt.Errorf("DTMF %q: %q is not a DTMF digit (0-9 * # A-D)", digits, digits[i])
		}
	}
	return nil
}

// CallEndError is a dial the card ended at once (its final result).
type CallEndError struct {
	Reason string // End* value
	Err    error
}

func (e *CallEndError) Error() string { return "call not placed: " + e.Reason + ": " + e.Err.Error() }
func (e *CallEndError) Unwrap() error { return e.Err }

// Calls lists the card's calls (AT+CLCC).
func (m *Modem) Calls(ctx context.Context) ([]Call, error) {
	r, err := m.eng.Command(ctx, "AT+CLCC", 5*time.Second)
	if err != nil {
		return nil, m.wrap("list calls", err)
	}
	return ParseCLCC(r.Lines)
}

// Dial places a voice call (ATD<number>;). It returns when the card took
// the call (OK): progress comes as URCs. A final result that ends the
// call at once is a *CallEndError.
func (m *Modem) Dial(ctx context.Context, number string) error {
	if err := CheckDialNumber(number); err != nil {
		return err
	}
	_, err := m.eng.Command(ctx, "ATD"+number+";", 30*time.Second)
	if err == nil {
		return nil
	}
	var cme *CMEError
	switch {
	case errors.Is(err, errBusy):
		return &CallEndError{Reason: EndBusy, Err: err}
	case errors.Is(err, errNoAnswer):
		return &CallEndError{Reason: EndNoAnswer, Err: err}
	case errors.Is(err, errNoDialtone):
		return &CallEndError{Reason: EndNoNetwork, Err: err}
	case errors.Is(err, errNoCarrier):
		return &CallEndError{Reason: m.endCause(ctx, EndNoCarrier), Err: err}
	case errors.As(err, &cme):
		switch cme.Code {
		case CMENoNetwork, 31, 32: // no network service, timeout, emergency calls only
			return &CallEndError{Reason: EndNoNetwork, Err: err}
		case 21, 22, 23, 25, 26, 27: // index/text/dial string problems
			return &CallEndError{Reason: EndInvalidNumber, Err: err}
		}
		return &CallEndError{Reason: EndError, Err: err}
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return m.wrap("dial", err)
	}
	return &CallEndError{Reason: EndError, Err: err}
}

// EndCause asks the card why the last call failed (AT+CEER) and returns
// an End* reason, or def when it does not say.
func (m *Modem) EndCause(ctx context.Context, def string) string { return m.endCause(ctx, def) }

func (m *Modem) endCause(ctx context.Context, def string) string {
	r, err := m.eng.Command(ctx, "AT+CEER", 3*time.Second)
	if err != nil {
		return def
	}
	if reason := ParseCEER(r.Lines); reason != "" {
		return reason
	}
	return def
}

// Answer answers the ringing call (ATA) and switches the card's audio to
// the voice port where the vendor needs it after connect.
func (m *Modem) Answer(ctx context.Context) error {
	if _, err := m.eng.Command(ctx, "ATA", 20*time.Second); err != nil {
		return m.wrap("answer", err)
	}
	return m.CallConnected(ctx)
}

// CallConnected runs the vendor's step after a call is up (Huawei:
// AT^DDSETEX=2 starts the PCM stream on the voice port). Harmless to
// call twice.
func (m *Modem) CallConnected(ctx context.Context) error {
	v := m.voiceVendor()
	if v.afterConnect == "" {
		return nil
	}
	if _, err := m.eng.Command(ctx, v.afterConnect, 5*time.Second); err != nil {
		return m.wrap("start call audio", err)
	}
	return nil
}

// Hangup ends call (0: every call): AT+CHUP, or ATH where the card lacks
// it; a call among several is released with AT+CHLD=1<call>.
func (m *Modem) Hangup(ctx context.Context, call int) error {
	if call < 0 || call > 7 {
		return fmt.Errorf("hangup: no call %d (calls are numbered 1..7, 0 is all)", call)
	}
	if call > 0 {
		calls, err := m.Calls(ctx)
		if err == nil && len(calls) > 1 {
			if _, err := m.eng.Command(ctx, fmt.Sprintf("AT+CHLD=1%d", call), 10*time.Second); err != nil {
				return m.wrap("hang up call", err)
			}
			return nil
		}
	}
	_, err := m.eng.Command(ctx, "AT+CHUP", 10*time.Second)
	if err == nil {
		return nil
	}
	var te *timeoutError
	if errors.As(err, &te) {
		return m.wrap("hang up", err)
	}
	if _, err2 := m.eng.Command(ctx, "ATH", 10*time.Second); err2 != nil {
		return m.wrap("hang up (AT+CHUP and ATH refused)", errors.Join(err, err2))
	}
	return nil
}

// SendDTMF sends digits on the active call, one AT+VTS (Huawei: AT^DTMF)
// per digit so each gets its own answer.
func (m *Modem) SendDTMF(ctx context.Context, digits string) error {
	if err := CheckDTMF(digits); err != nil {
		return err
	}
	v := m.voiceVendor()
	call := 1
	if v.dtmfNeedsCall {
		if calls, err := m.Calls(ctx); err == nil {
			for _, c := range calls {
				if c.State == CallActive {
					call = c.Index
				}
			}
		}
	}
	for i := 0; i < len(digits); i++ {
		if _, err := m.eng.Command(ctx, v.dtmf(call, digits[i]), 5*time.Second); err != nil {
			return m.wrap(fmt.Sprintf("send DTMF %q", digits[i]), err)
		}
	}
	return nil
}

// EnableStatusReports routes SMS status reports to the box as +CDS
// (AT+CNMI ds=1, PDU mode). The SRR bit in each SMS-SUBMIT asks for them
// (smspdu.go); AT+CSMP only matters in text mode.
func (m *Modem) EnableStatusReports(ctx context.Context) error {
	if _, err := m.eng.Command(ctx, "AT+CNMI=2,1,0,1,0", 0); err != nil {
		return m.wrap("enable SMS status reports", err)
	}
	return nil
}

// ReadStatusReport reads a status report stored after +CDSI (AT+CMGR)
// and deletes it from the SIM.
func (m *Modem) ReadStatusReport(ctx context.Context, index int) (StatusReport, error) {
	m.smsMu.Lock()
	defer m.smsMu.Unlock()
	r, err := m.eng.Command(ctx, fmt.Sprintf("AT+CMGR=%d", index), 10*time.Second)
	if err != nil {
		return StatusReport{}, m.wrap("read status report", err)
	}
	sp, found, err := parseCMGR(r.Lines)
	if err != nil || !found {
		return StatusReport{}, fmt.Errorf("status report %d: not found (%v)", index, err)
	}
	rep, err := decodeStatusReport(sp.PDU)
	if err != nil {
		return StatusReport{}, err
	}
	if _, err := m.eng.Command(ctx, fmt.Sprintf("AT+CMGD=%d", index), 10*time.Second); err != nil {
		return rep, m.wrap("delete status report", err)
	}
	return rep, nil
}
