package modem

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// One parser per response type, ModemManager style. Each takes the line
// without its prefix unless said otherwise, and never panics on junk.

// urcNames are the prefixes (before ':') or whole lines that are
// unsolicited when no command owns them.
var urcNames = map[string]bool{
	"+CREG": true, "+CGREG": true, "+CEREG": true, "+C5GREG": true,
	"+CMTI": true, "+CMT": true, "+CDSI": true, "+CDS": true, "+CBM": true,
	"RING": true, "+CRING": true, "+CLIP": true, "+CUSD": true, "+CIEV": true,
	"+CPIN": true, "+PACSP": true, "+PACSP0": true, "+PACSP1": true, "+CFUN": true,
	"^RSSI": true, "^HCSQ": true, "^NDISSTAT": true, "^MODE": true, "^SYSSTART": true,
	"^SRVST": true, "^SIMST": true, "^BOOT": true, "^DSFLOWRPT": true, "^RFSWITCH": true,
	"^STIN": true, "^CEND": true, "^ORIG": true, "^CONF": true, "^CONN": true,
	"^ECCLIST": true, "^ACTIVEBAND": true, "^HCMGSS": true, "^HCMGSF": true,
	"*E2NAP": true, "*EMRDY": true, "*ERINFO": true, "*EPSB": true, "*ESTKSMENU": true,
	"+QIND": true, "RDY": true, "+QUSIM": true, "+QSTATE": true, "POWERED DOWN": true,
	"+CGEV": true, "+QNETDEVSTATUS": true, "+QIURC": true, "^EONS": true, "+CTZV": true, "+CTZE": true,
	"^NWTIME": true, "+CSSI": true, "+CSSU": true, "^CSNR": true, "+QTONEDET": true,
	// time zone and boot reports of other firmware (SIMCom, older Huawei,
	// Ericsson), signal reports, call waiting
	"+CTZDST": true, "^TIME": true, "+NITZ": true, "*ETZV": true, "*ETZR": true,
	"SMS DONE": true, "PB DONE": true, "CALL READY": true, "SMS READY": true,
	"^CERSSI": true, "^HRSSILVL": true, "^LTERSRP": true, "+CCWA": true, "*ESIMSR": true,
	"NO CARRIER": false, // a final result; unsolicited only when idle
}

// urcName returns the name part of line: "+CREG" for "+CREG: 1".
func urcName(line string) string {
	if i := strings.IndexByte(line, ':'); i > 0 {
		return strings.ToUpper(strings.TrimSpace(line[:i]))
	}
	return strings.ToUpper(strings.TrimSpace(line))
}

// ownedPrefixes returns the response names a command can produce:
// "AT+CREG?;+CGREG?" owns +CREG and +CGREG.
func ownedPrefixes(cmd string) map[string]bool {
	c := strings.ToUpper(strings.TrimSpace(cmd))
	c = strings.TrimPrefix(c, "AT")
	owned := map[string]bool{}
	for _, part := range strings.Split(c, ";") {
		part = strings.TrimSpace(part)
		end := len(part)
		for i := 1; i < len(part); i++ {
			if ch := part[i]; ch == '=' || ch == '?' || ch == ' ' {
				end = i
				break
			}
		}
		if end > 0 {
			owned[part[:end]] = true
		}
	}
	return owned
}

// isUnsolicited decides whether line, received while a command owning
// the names in owned runs, is a URC.
func isUnsolicited(line string, owned map[string]bool) bool {
	name := urcName(line)
	if !urcNames[name] {
		return false
	}
	if !owned[name] {
		return true
	}
	switch name {
	case "+CREG", "+CGREG", "+CEREG", "+C5GREG":
		// The answer to AT+CREG? is "<n>,<stat>[,...]"; the URC is
		// "<stat>" or "<stat>,"<lac>",...". Tell them apart by field 2.
		f := Fields(afterColon(line))
		if len(f) < 2 {
			return true
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			return true
		}
		// A <stat> has one or two digits; four or more are a LAC/TAC
		// printed unquoted in hex that happens to be all digits
		// (+CEREG: 1,1234,01234567,7 from Huawei or Sierra firmware).
		if len(f[1]) > 2 {
			return true
		}
		return strings.HasPrefix(strings.TrimSpace(splitRaw(afterColon(line))[1]), "\"")
	}
	return false
}

func afterColon(line string) string {
	if i := strings.IndexByte(line, ':'); i >= 0 {
		return strings.TrimSpace(line[i+1:])
	}
	return ""
}

// splitRaw splits on commas outside quotes, keeping quotes.
func splitRaw(s string) []string {
	var out []string
	var cur strings.Builder
	inq := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inq = !inq
			cur.WriteByte(c)
		case c == ',' && !inq:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// Fields splits an AT parameter list on commas outside quotes and removes
// the quotes and surrounding blanks of each field.
func Fields(s string) []string {
	raw := splitRaw(s)
	for i, f := range raw {
		f = strings.TrimSpace(f)
		if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
			f = f[1 : len(f)-1]
		} else {
			f = strings.Trim(f, "\"")
		}
		raw[i] = f
	}
	return raw
}

func hasPrefixFold(s, p string) bool { _, ok := cutPrefixFold(s, p); return ok }

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func atoi(s string) (int, error) { return strconv.Atoi(strings.TrimSpace(s)) }

// RegInfo is a +CREG/+CGREG/+CEREG report.
type RegInfo struct {
	N      int // the URC mode, -1 in a URC
	Stat   int
	LAC    string
	CellID string
	AcT    int // -1 if absent
}

// parseCREG parses the text after "+CREG:"/"+CGREG:"/"+CEREG:"; solicited
// tells whether it is the answer to the query (with <n>) or a URC.
func parseCREG(s string, solicited bool) (RegInfo, error) {
	f := Fields(s)
	ri := RegInfo{N: -1, AcT: -1}
	if solicited {
		if len(f) < 2 {
			return ri, fmt.Errorf("registration %q: too few fields", s)
		}
		n, err := atoi(f[0])
		if err != nil {
			return ri, fmt.Errorf("registration %q: bad mode", s)
		}
		ri.N = n
		f = f[1:]
	}
	if len(f) < 1 || f[0] == "" {
		return ri, fmt.Errorf("registration %q: no state", s)
	}
	st, err := atoi(f[0])
	if err != nil || st < 0 || st > 11 {
		return ri, fmt.Errorf("registration %q: bad state", s)
	}
	ri.Stat = st
	if len(f) >= 3 {
		ri.LAC, ri.CellID = strings.ToUpper(f[1]), strings.ToUpper(f[2])
	}
	if len(f) >= 4 {
		// +CEREG has <tac>,<ci>,<AcT>; some modems put <rac> before AcT in +CGREG.
		if a, err := atoi(f[3]); err == nil {
			ri.AcT = a
		}
	}
	return ri, nil
}

// ParseCREGLine parses a whole +CREG/+CGREG/+CEREG line, deciding itself
// whether it is solicited.
func ParseCREGLine(line string) (RegInfo, error) {
	return parseCREG(afterColon(line), !isUnsolicited(line, map[string]bool{urcName(line): true}))
}

// regStateOf maps the 27.007 <stat>.
func regStateOf(stat int) RegState {
	switch stat {
	case 0:
		return RegNotRegistered
	case 1, 6, 8:
		return RegHome
	case 2:
		return RegSearching
	case 3:
		return RegDenied
	case 5, 7, 9, 10:
		return RegRoaming
	}
	return RegUnknown
}

// techOfAcT maps the 27.007 <AcT>.
func techOfAcT(act int) AccessTech {
	switch act {
	case 0, 1:
		return TechGSM
	case 3:
		return TechEDGE
	case 2:
		return TechUMTS
	case 4:
		return TechHSDPA
	case 5:
		return TechHSUPA
	case 6:
		return TechHSPA
	case 7, 9, 10, 11, 12, 13:
		return TechLTE
	}
	return TechUnknown
}

// ParseCOPS parses "+COPS: <mode>[,<format>,<oper>[,<AcT>]]".
func ParseCOPS(s string) (operator string, act int, err error) {
	f := Fields(s)
	if len(f) == 0 || f[0] == "" {
		return "", -1, fmt.Errorf("operator %q: empty", s)
	}
	if _, err := atoi(f[0]); err != nil {
		return "", -1, fmt.Errorf("operator %q: bad mode", s)
	}
	act = -1
	if len(f) >= 3 {
		operator = operatorName(f[2])
	}
	if len(f) >= 4 {
		if a, err := atoi(f[3]); err == nil {
			act = a
		}
	}
	return operator, act, nil
}

// ParseCSQ parses "+CSQ: <rssi>,<ber>" and returns dBm; ok is false for
// 99 (not known).
func ParseCSQ(s string) (dbm int, ok bool, err error) {
	f := Fields(s)
	v, err := atoi(f[0])
	if err != nil {
		return 0, false, fmt.Errorf("signal %q: %v", s, err)
	}
	return csqToDBm(v)
}

func csqToDBm(v int) (int, bool, error) {
	switch {
	case v == 99 || v == 199:
		return 0, false, nil
	case v >= 0 && v <= 31:
		return -113 + 2*v, true, nil
	case v >= 100 && v <= 191: // TD-SCDMA/extended range
		return -116 + (v - 100), true, nil
	}
	return 0, false, fmt.Errorf("signal value %d out of range", v)
}

// parseRSSIURC parses Huawei's "^RSSI: <n>" (same scale as +CSQ).
func parseRSSIURC(s string) (int, bool, error) { return ParseCSQ(s) }

// ParseCPIN parses "+CPIN: <code>".
func ParseCPIN(s string) (SIMState, error) {
	code := strings.ToUpper(strings.Trim(strings.TrimSpace(s), "\""))
	switch code {
	case "READY":
		return SIMReady, nil
	case "SIM PIN":
		return SIMPIN, nil
	case "SIM PUK":
		return SIMPUK, nil
	case "NOT INSERTED", "SIM NOT INSERTED", "NOT READY", "SIM REMOVED":
		return SIMAbsent, nil
	case "SIM PIN2", "SIM PUK2", "PH-SIM PIN", "PH-NET PIN", "PH-NET PUK":
		return SIMState(strings.ToLower(strings.ReplaceAll(code, " ", "-"))), nil
	case "":
		return SIMUnknown, errors.New("SIM state: empty")
	}
	return SIMUnknown, fmt.Errorf("SIM state %q not understood", s)
}

// pinAttempts are the tries left, -1 when unknown.
type pinAttempts struct{ PIN, PUK int }

// parseCPINR parses 27.007 "+CPINR: SIM PIN,<retries>,<default>" lines
// (the text after the prefix); code says which counter it is.
func parseCPINR(s string) (code string, left int, err error) {
	f := Fields(s)
	if len(f) < 2 {
		return "", -1, fmt.Errorf("PIN retries %q: too few fields", s)
	}
	n, err := atoi(f[1])
	if err != nil {
		return "", -1, fmt.Errorf("PIN retries %q: %v", s, err)
	}
	return strings.ToUpper(f[0]), n, nil
}

func iptr(v int) *int               { return &v }
func fptr(v float64) *float64       { return &v }
func validRange(v, lo, hi int) bool { return v >= lo && v <= hi }

// parseCESQ parses 27.007 "+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>".
func parseCESQ(s string) (Signal, error) {
	f := Fields(s)
	var sig Signal
	if len(f) < 6 {
		return sig, fmt.Errorf("+CESQ %q: too few fields", s)
	}
	v := make([]int, 6)
	for i := range v {
		n, err := atoi(f[i])
		if err != nil {
			return sig, fmt.Errorf("+CESQ %q: %v", s, err)
		}
		v[i] = n
	}
	if validRange(v[0], 0, 63) {
		sig.RSSI = iptr(-111 + v[0])
	}
	if validRange(v[2], 0, 96) {
		sig.RSCP = iptr(-121 + v[2])
		sig.Tech = TechUMTS
	}
	if validRange(v[3], 0, 49) {
		sig.EcIo = fptr(-24.5 + float64(v[3])*0.5)
	}
	if validRange(v[4], 0, 34) {
		sig.RSRQ = fptr(-20 + float64(v[4])*0.5)
		sig.Tech = TechLTE
	}
	if validRange(v[5], 0, 97) {
		sig.RSRP = iptr(-141 + v[5])
		sig.Tech = TechLTE
	}
	return sig, nil
}

var smCauses = map[int]string{
	8: "operator determined barring", 25: "LLC or SNDCP failure", 26: "insufficient resources",
	27: "missing or unknown APN", 28: "unknown PDP address or type", 29: "user authentication failed",
	30: "activation rejected by GGSN", 31: "activation rejected, unspecified",
	32: "service option not supported", 33: "requested service option not subscribed",
	34: "service option temporarily out of order", 36: "regular deactivation", 38: "network failure",
}

// smCause renders a 3GPP 24.008 session management cause ("33").
func smCause(code string) string {
	code = strings.TrimSpace(code)
	n, err := strconv.Atoi(code)
	if err != nil {
		return code
	}
	if m, ok := smCauses[n]; ok {
		return code + " " + m
	}
	return code
}

// parseCMTI parses "+CMTI: <mem>,<index>".
func parseCMTI(s string) (mem string, index int, err error) {
	f := Fields(s)
	if len(f) != 2 {
		return "", 0, fmt.Errorf("+CMTI %q: want 2 fields", s)
	}
	index, err = atoi(f[1])
	if err != nil || index < 0 {
		return "", 0, fmt.Errorf("+CMTI %q: bad index", s)
	}
	return strings.ToUpper(f[0]), index, nil
}

// storedPDU is one message listed by +CMGL or read by +CMGR.
type storedPDU struct {
	Index int
	Stat  int
	PDU   string
}

// parseCMGL parses the lines of an AT+CMGL=4 answer: "+CMGL: <index>,
// <stat>,[<alpha>],<length>" each followed by its PDU line.
func parseCMGL(lines []string) ([]storedPDU, error) {
	var out []storedPDU
	for i := 0; i < len(lines); i++ {
		rest, ok := cutPrefixFold(lines[i], "+CMGL:")
		if !ok {
			continue
		}
		f := Fields(rest)
		if len(f) < 2 {
			return out, fmt.Errorf("+CMGL %q: too few fields", lines[i])
		}
		idx, err1 := atoi(f[0])
		st, err2 := atoi(f[1])
		if err1 != nil || err2 != nil {
			return out, fmt.Errorf("+CMGL %q: bad index or status", lines[i])
		}
		if i+1 >= len(lines) || !isHex(lines[i+1]) {
			return out, fmt.Errorf("+CMGL: message %d has no PDU", idx)
		}
		out = append(out, storedPDU{Index: idx, Stat: st, PDU: lines[i+1]})
		i++
	}
	return out, nil
}

// parseCMGR parses an AT+CMGR=<index> answer: "+CMGR: <stat>,[<alpha>],
// <length>" then the PDU. An empty answer (OK only) means an empty slot.
func parseCMGR(lines []string) (storedPDU, bool, error) {
	for i, l := range lines {
		rest, ok := cutPrefixFold(l, "+CMGR:")
		if !ok {
			continue
		}
		f := Fields(rest)
		st, err := atoi(f[0])
		if err != nil {
			return storedPDU{}, false, fmt.Errorf("+CMGR %q: bad status", l)
		}
		if i+1 >= len(lines) || !isHex(lines[i+1]) {
			return storedPDU{}, false, errors.New("+CMGR: no PDU")
		}
		return storedPDU{Index: -1, Stat: st, PDU: lines[i+1]}, true, nil
	}
	return storedPDU{}, false, nil
}

// parseCCID extracts the ICCID from "+CCID: ...", "^ICCID: ...",
// "+QCCID: ...", "!ICCID: ...", "+ICCID: ..." or a bare number. A
// trailing F is padding. Some firmware returns the raw EF_ICCID with the
// digits of each BCD byte swapped: every real ICCID starts with 89 (the
// telecom industry identifier), so a leading 98 means swapped.
func parseCCID(line string) (string, error) {
	s := line
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.ToUpper(strings.Trim(strings.TrimSpace(s), "\""))
	if strings.HasPrefix(s, "98") && len(s)%2 == 0 {
		b := []byte(s)
		for i := 0; i+1 < len(b); i += 2 {
			b[i], b[i+1] = b[i+1], b[i]
		}
		s = string(b)
	}
	s = strings.TrimRight(s, "F")
	return digitString(s, 18, 22, "ICCID", line)
}

// parseIMEI extracts the 15-digit IMEI from "+CGSN: ..." or a bare line.
func parseIMEI(line string) (string, error) {
	s := line
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Trim(strings.TrimSpace(s), "\"")
	return digitString(s, 14, 17, "IMEI", line)
}

// parseIMSI checks a bare IMSI line.
func parseIMSI(line string) (string, error) {
	s := strings.TrimSpace(line)
	return digitString(s, 6, 15, "IMSI", line)
}

// digitString returns s when it is lo to hi decimal digits, else an error
// naming what and the line it came from.
func digitString(s string, lo, hi int, what, line string) (string, error) {
	if len(s) < lo || len(s) > hi {
		return "", fmt.Errorf("%s %q: bad length", what, line)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("%s %q: not digits", what, line)
		}
	}
	return s, nil
}

// parseInfoLine takes the answer of +CGMI/+CGMM/+CGMR, which some modems
// prefix with the command name ("+CGMR: 11.608.13.02.00").
func parseInfoLine(lines []string, prefix string) string {
	for _, l := range lines {
		if rest, ok := cutPrefixFold(l, prefix); ok {
			return strings.Trim(strings.TrimSpace(rest), "\"")
		}
	}
	// The bare answer: the first line that is not a URC (one the box
	// knows, or any other command's "+XXX:"/"^XXX:" line: a time zone
	// report of firmware the box does not know).
	for _, l := range lines {
		if !urcNames[urcName(l)] && !otherPrefixed(l) {
			return strings.Trim(strings.TrimSpace(l), "\"")
		}
	}
	return ""
}

// otherPrefixed: line reads "+NAME: ...", "^NAME:", "*NAME:" (as URCs
// and prefixed answers do), which no bare answer does.
func otherPrefixed(line string) bool {
	l := strings.TrimSpace(line)
	if l == "" || !strings.ContainsRune("+^*$%#", rune(l[0])) {
		return false
	}
	i := strings.IndexByte(l, ':')
	if i < 2 {
		return false
	}
	for _, c := range l[1:i] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
