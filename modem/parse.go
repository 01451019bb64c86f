package modem

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
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
	"^NWTIME": true, "+CSSI": true, "+CSSU": true, "^CSNR": true,
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

// ParseCREG parses the text after "+CREG:"/"+CGREG:"/"+CEREG:"; solicited
// tells whether it is the answer to the query (with <n>) or a URC.
func ParseCREG(s string, solicited bool) (RegInfo, error) {
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
	return ParseCREG(afterColon(line), !isUnsolicited(line, map[string]bool{urcName(line): true}))
}

// RegStateOf maps the 27.007 <stat>.
func RegStateOf(stat int) RegState {
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

// TechOfAcT maps the 27.007 <AcT>.
func TechOfAcT(act int) AccessTech {
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
		operator = strings.TrimSpace(f[2])
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

// ParseRSSIURC parses Huawei's "^RSSI: <n>" (same scale as +CSQ).
func ParseRSSIURC(s string) (int, bool, error) { return ParseCSQ(s) }

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

// PINAttempts are the tries left, -1 when unknown.
type PINAttempts struct{ PIN, PUK int }

// ParseCPINR parses 27.007 "+CPINR: SIM PIN,<retries>,<default>" lines
// (the text after the prefix); code says which counter it is.
func ParseCPINR(s string) (code string, left int, err error) {
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

// ParseHuaweiCPIN parses Huawei "^CPIN: <code>,[<times>],<puk_times>,
// <pin_times>,<puk2_times>,<pin2_times>".
func ParseHuaweiCPIN(s string) (SIMState, PINAttempts, error) {
	f := Fields(s)
	a := PINAttempts{-1, -1}
	if len(f) < 4 {
		return SIMUnknown, a, fmt.Errorf("^CPIN %q: too few fields", s)
	}
	st, err := ParseCPIN(f[0])
	if err != nil {
		return SIMUnknown, a, err
	}
	if v, err := atoi(f[2]); err == nil {
		a.PUK = v
	}
	if v, err := atoi(f[3]); err == nil {
		a.PIN = v
	}
	return st, a, nil
}

// ParseQPINC parses Quectel "+QPINC: "SC",<pin>,<puk>".
func ParseQPINC(s string) (PINAttempts, error) {
	f := Fields(s)
	a := PINAttempts{-1, -1}
	if len(f) < 3 {
		return a, fmt.Errorf("+QPINC %q: too few fields", s)
	}
	var err1, err2 error
	a.PIN, err1 = atoi(f[1])
	a.PUK, err2 = atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return PINAttempts{-1, -1}, fmt.Errorf("+QPINC %q: %v", s, err)
	}
	return a, nil
}

// ParseEPIN parses Ericsson "*EPIN: <pin1>,<puk1>,<pin2>,<puk2>".
func ParseEPIN(s string) (PINAttempts, error) {
	f := Fields(s)
	a := PINAttempts{-1, -1}
	if len(f) < 2 {
		return a, fmt.Errorf("*EPIN %q: too few fields", s)
	}
	var err1, err2 error
	a.PIN, err1 = atoi(f[0])
	a.PUK, err2 = atoi(f[1])
	if err := errors.Join(err1, err2); err != nil {
		return PINAttempts{-1, -1}, fmt.Errorf("*EPIN %q: %v", s, err)
	}
	return a, nil
}

func iptr(v int) *int               { return &v }
func fptr(v float64) *float64       { return &v }
func validRange(v, lo, hi int) bool { return v >= lo && v <= hi }

// ParseHCSQ parses Huawei "^HCSQ: <sysmode>,<v1>,...". Huawei's guide
// gives each value as an interval (RSSI 1 is -120 <= x < -119 dBm); like
// ModemManager we report the interval's lower bound: RSSI/RSCP -121+v,
// RSRP -141+v, SINR -20.2+v/5, RSRQ -20+v/2, Ec/Io -32.5+v/2; 255 unknown.
func ParseHCSQ(s string) (Signal, error) {
	f := Fields(s)
	var sig Signal
	if len(f) == 0 {
		return sig, errors.New("^HCSQ: empty")
	}
	mode := strings.ToUpper(f[0])
	vals := make([]int, 0, len(f)-1)
	for _, x := range f[1:] {
		v, err := atoi(x)
		if err != nil {
			return sig, fmt.Errorf("^HCSQ %q: %v", s, err)
		}
		vals = append(vals, v)
	}
	get := func(i, lo, hi int) (int, bool) {
		if i < len(vals) && vals[i] != 255 && validRange(vals[i], lo, hi) {
			return vals[i], true
		}
		return 0, false
	}
	switch mode {
	case "NOSERVICE":
		return sig, nil
	case "GSM":
		sig.Tech = TechGSM
		if v, ok := get(0, 0, 96); ok {
			sig.RSSI = iptr(-121 + v)
		}
	case "WCDMA", "TD-SCDMA":
		sig.Tech = TechUMTS
		if v, ok := get(0, 0, 96); ok {
			sig.RSSI = iptr(-121 + v)
		}
		if v, ok := get(1, 0, 96); ok {
			sig.RSCP = iptr(-121 + v)
		}
		if v, ok := get(2, 0, 65); ok {
			sig.EcIo = fptr(-32.5 + float64(v)/2)
		}
	case "LTE":
		sig.Tech = TechLTE
		if v, ok := get(0, 0, 96); ok {
			sig.RSSI = iptr(-121 + v)
		}
		if v, ok := get(1, 0, 97); ok {
			sig.RSRP = iptr(-141 + v)
		}
		if v, ok := get(2, 0, 251); ok {
			sig.SINR = fptr(-20.2 + float64(v)/5)
		}
		if v, ok := get(3, 0, 34); ok {
			sig.RSRQ = fptr(-20 + float64(v)/2)
		}
	default:
		return sig, fmt.Errorf("^HCSQ %q: unknown mode", s)
	}
	return sig, nil
}

// ParseCESQ parses 27.007 "+CESQ: <rxlev>,<ber>,<rscp>,<ecno>,<rsrq>,<rsrp>".
func ParseCESQ(s string) (Signal, error) {
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

// ParseQCSQ parses Quectel "+QCSQ: "LTE",<rssi>,<rsrp>,<sinr>,<rsrq>"
// (dBm values; SINR in 1/5 dB from -20).
func ParseQCSQ(s string) (Signal, error) {
	f := Fields(s)
	var sig Signal
	if len(f) == 0 {
		return sig, errors.New("+QCSQ: empty")
	}
	num := func(i int) (int, bool) {
		if i >= len(f) {
			return 0, false
		}
		v, err := atoi(f[i])
		return v, err == nil
	}
	switch strings.ToUpper(f[0]) {
	case "NOSERVICE":
	case "GSM":
		sig.Tech = TechGSM
		if v, ok := num(1); ok {
			sig.RSSI = iptr(v)
		}
	case "WCDMA":
		sig.Tech = TechUMTS
		if v, ok := num(1); ok {
			sig.RSSI = iptr(v)
		}
		if v, ok := num(2); ok {
			sig.RSCP = iptr(v)
		}
		if v, ok := num(3); ok {
			sig.EcIo = fptr(float64(v))
		}
	case "LTE", "CAT-M", "CAT-NB":
		sig.Tech = TechLTE
		if v, ok := num(1); ok {
			sig.RSSI = iptr(v)
		}
		if v, ok := num(2); ok {
			sig.RSRP = iptr(v)
		}
		if v, ok := num(3); ok {
			sig.SINR = fptr(-20 + float64(v)/5)
		}
		if v, ok := num(4); ok {
			sig.RSRQ = fptr(float64(v))
		}
	default:
		return sig, fmt.Errorf("+QCSQ %q: unknown mode", s)
	}
	return sig, nil
}

// SysInfoEx is Huawei's ^SYSINFOEX answer.
type SysInfoEx struct {
	SrvStatus, SrvDomain, Roam, SIMState int
	SysMode                              int
	SysModeName, SubModeName             string
	SubMode                              int
}

// ParseSYSINFOEX parses "^SYSINFOEX: <srv_status>,<srv_domain>,<roam_status>,
// <sim_state>,<lock_state>,<sysmode>,<sysmode_name>,<submode>,<submode_name>".
func ParseSYSINFOEX(s string) (SysInfoEx, error) {
	f := Fields(s)
	var si SysInfoEx
	if len(f) < 7 {
		return si, fmt.Errorf("^SYSINFOEX %q: too few fields", s)
	}
	ints := []*int{&si.SrvStatus, &si.SrvDomain, &si.Roam, &si.SIMState}
	for i, p := range ints {
		v, err := atoi(f[i])
		if err != nil {
			return si, fmt.Errorf("^SYSINFOEX %q: field %d: %v", s, i+1, err)
		}
		*p = v
	}
	v, err := atoi(f[5])
	if err != nil {
		return si, fmt.Errorf("^SYSINFOEX %q: sysmode: %v", s, err)
	}
	si.SysMode = v
	si.SysModeName = f[6]
	if len(f) >= 9 {
		si.SubMode, _ = atoi(f[7])
		si.SubModeName = f[8]
	}
	return si, nil
}

// TechOfHuaweiMode maps ^SYSINFOEX sub-mode names to a technology.
func TechOfHuaweiMode(sysmode, submode string) AccessTech {
	switch strings.ToUpper(submode) {
	case "GSM":
		return TechGSM
	case "GPRS":
		return TechGPRS
	case "EDGE":
		return TechEDGE
	case "WCDMA":
		return TechUMTS
	case "HSDPA":
		return TechHSDPA
	case "HSUPA":
		return TechHSUPA
	case "HSPA":
		return TechHSPA
	case "HSPA+", "DC-HSPA+":
		return TechHSPAP
	case "LTE", "LTE FDD", "LTE TDD":
		return TechLTE
	}
	switch strings.ToUpper(sysmode) {
	case "GSM":
		return TechGSM
	case "WCDMA":
		return TechUMTS
	case "LTE":
		return TechLTE
	}
	return TechUnknown
}

// ParseNDISSTAT parses "^NDISSTAT: <stat>[,<err>[,<wx_state>[,<PDP_type>]]]"
// or the same fields after "^NDISSTATQRY:" (IPv4 then IPv6 groups; some
// firmware sends one line per family, which callers join with ','). The
// IPv4 group decides; without one, the first group. stat 1 is connected,
// 2 connecting.
func ParseNDISSTAT(s string) (LinkStatus, error) {
	ls, _, err := ParseNDISSTATv4(s)
	return ls, err
}

// ParseNDISSTATv4 is ParseNDISSTAT that also says whether an IPv4 group
// (or an untyped one) was present: a URC about IPv6 alone says nothing
// about the box's IPv4 uplink.
func ParseNDISSTATv4(s string) (LinkStatus, bool, error) {
	f := Fields(s)
	if len(f) == 0 || f[0] == "" {
		return LinkStatus{}, false, fmt.Errorf("^NDISSTAT %q: empty", s)
	}
	var first LinkStatus
	for i := 0; i < len(f); i += 4 {
		st, err := atoi(f[i])
		if err != nil || st < 0 || st > 3 {
			return LinkStatus{}, false, fmt.Errorf("^NDISSTAT %q: bad state", s)
		}
		ls := LinkStatus{Connected: st == 1, Connecting: st == 2}
		if st == 0 && i+1 < len(f) && f[i+1] != "" {
			ls.Cause = SMCause(f[i+1])
		}
		typ := "IPV4"
		if i+3 < len(f) && f[i+3] != "" {
			typ = strings.ToUpper(f[i+3])
		}
		if typ == "IPV4" || typ == "IPV4V6" {
			return ls, true, nil
		}
		if i == 0 {
			first = ls
		}
	}
	return first, false, nil
}

var smCauses = map[int]string{
	8: "operator determined barring", 25: "LLC or SNDCP failure", 26: "insufficient resources",
	27: "missing or unknown APN", 28: "unknown PDP address or type", 29: "user authentication failed",
	30: "activation rejected by GGSN", 31: "activation rejected, unspecified",
	32: "service option not supported", 33: "requested service option not subscribed",
	34: "service option temporarily out of order", 36: "regular deactivation", 38: "network failure",
}

// SMCause renders a 3GPP 24.008 session management cause ("33").
func SMCause(code string) string {
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

// ParseDHCP parses Huawei "^DHCP: <ip>,<netmask>,<gw>,<dhcp>,<dns1>,
// <dns2>,<max_rx>,<max_tx>"; addresses are little-endian hex, sometimes
// without the leading zero.
func ParseDHCP(s string) (IPConfig, error) {
	f := Fields(s)
	var c IPConfig
	if len(f) < 6 {
		return c, fmt.Errorf("^DHCP %q: too few fields", s)
	}
	addrs := make([]netip.Addr, 6)
	for i := 0; i < 6; i++ {
		a, err := leHexIP(f[i])
		if err != nil {
			return c, fmt.Errorf("^DHCP %q: field %d: %v", s, i+1, err)
		}
		addrs[i] = a
	}
	mask := addrs[1].As4()
	bits := 0
	for _, b := range mask {
		for j := 7; j >= 0; j-- {
			if b&(1<<j) != 0 {
				bits++
			}
		}
	}
	if addrs[0].IsUnspecified() {
		return c, errors.New("^DHCP: modem has no address (not connected)")
	}
	c.Address = netip.PrefixFrom(addrs[0], bits)
	c.Gateway = addrs[2]
	for _, d := range addrs[4:6] {
		if !d.IsUnspecified() {
			c.DNS = append(c.DNS, d)
		}
	}
	return c, nil
}

func leHexIP(h string) (netip.Addr, error) {
	h = strings.TrimSpace(h)
	if len(h) == 0 || len(h) > 8 {
		return netip.Addr{}, fmt.Errorf("bad hex address %q", h)
	}
	h = strings.Repeat("0", 8-len(h)) + h
	b, err := hex.DecodeString(h)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad hex address %q", h)
	}
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), nil
}

// ParseENAP parses Ericsson "*ENAP: <status>" and "*E2NAP: <status>[,...]":
// 0 disconnected, 1 connected, 2 connecting.
func ParseENAP(s string) (LinkStatus, error) {
	f := Fields(s)
	st, err := atoi(f[0])
	if err != nil || st < 0 || st > 2 {
		return LinkStatus{}, fmt.Errorf("*ENAP %q: bad status", s)
	}
	ls := LinkStatus{Connected: st == 1, Connecting: st == 2}
	if st == 0 && len(f) > 1 && f[1] != "" {
		ls.Cause = SMCause(f[1])
	}
	return ls, nil
}

// ParseE2IPCFG parses Ericsson "*E2IPCFG: (1,"a.b.c.d")(2,"gw")(3,"dns")...":
// 1 address, 2 gateway, 3 DNS. Values come as UCS-2 hex when the
// character set is UCS2; IPv6 groups are skipped (the box uses IPv4).
func ParseE2IPCFG(s string) (IPConfig, error) {
	var c IPConfig
	rest := strings.TrimSpace(s)
	for rest != "" {
		if rest[0] != '(' {
			return c, fmt.Errorf("*E2IPCFG %q: expected '('", s)
		}
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return c, fmt.Errorf("*E2IPCFG %q: unterminated group", s)
		}
		f := Fields(rest[1:end])
		rest = strings.TrimSpace(strings.TrimLeft(rest[end+1:], ", "))
		if len(f) != 2 {
			return c, fmt.Errorf("*E2IPCFG %q: bad group", s)
		}
		v := f[1]
		if !strings.ContainsAny(v, ".:") {
			if d, ok := ucs2Hex(v); ok {
				v = d
			}
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return c, fmt.Errorf("*E2IPCFG %q: %v", s, err)
		}
		if !a.Is4() {
			continue
		}
		switch f[0] {
		case "1":
			// The card hands out a point-to-point style address; /32.
			c.Address = netip.PrefixFrom(a, 32)
		case "2":
			c.Gateway = a
		case "3":
			c.DNS = append(c.DNS, a)
		}
	}
	if !c.Address.IsValid() {
		return c, errors.New("*E2IPCFG: no IPv4 address (not connected)")
	}
	return c, nil
}

// ucs2Hex decodes "0031002E" style UCS-2 hex holding ASCII.
func ucs2Hex(h string) (string, bool) {
	if len(h) == 0 || len(h)%4 != 0 {
		return "", false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", false
	}
	out := make([]byte, 0, len(b)/2)
	for i := 0; i < len(b); i += 2 {
		if b[i] != 0 || b[i+1] >= 0x80 {
			return "", false
		}
		out = append(out, b[i+1])
	}
	return string(out), true
}

// ParseEMRDY parses Ericsson "*EMRDY: <ready>".
func ParseEMRDY(s string) (bool, error) {
	v, err := atoi(Fields(s)[0])
	if err != nil {
		return false, fmt.Errorf("*EMRDY %q: %v", s, err)
	}
	return v == 1, nil
}

// ParseCMTI parses "+CMTI: <mem>,<index>".
func ParseCMTI(s string) (mem string, index int, err error) {
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

// StoredPDU is one message listed by +CMGL or read by +CMGR.
type StoredPDU struct {
	Index int
	Stat  int
	PDU   string
}

// ParseCMGL parses the lines of an AT+CMGL=4 answer: "+CMGL: <index>,
// <stat>,[<alpha>],<length>" each followed by its PDU line.
func ParseCMGL(lines []string) ([]StoredPDU, error) {
	var out []StoredPDU
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
		out = append(out, StoredPDU{Index: idx, Stat: st, PDU: lines[i+1]})
		i++
	}
	return out, nil
}

// ParseCMGR parses an AT+CMGR=<index> answer: "+CMGR: <stat>,[<alpha>],
// <length>" then the PDU. An empty answer (OK only) means an empty slot.
func ParseCMGR(lines []string) (StoredPDU, bool, error) {
	for i, l := range lines {
		rest, ok := cutPrefixFold(l, "+CMGR:")
		if !ok {
			continue
		}
		f := Fields(rest)
		st, err := atoi(f[0])
		if err != nil {
			return StoredPDU{}, false, fmt.Errorf("+CMGR %q: bad status", l)
		}
		if i+1 >= len(lines) || !isHex(lines[i+1]) {
			return StoredPDU{}, false, errors.New("+CMGR: no PDU")
		}
		return StoredPDU{Index: -1, Stat: st, PDU: lines[i+1]}, true, nil
	}
	return StoredPDU{}, false, nil
}

// ParseCCID extracts the ICCID from "+CCID: ...", "^ICCID: ...",
// "+QCCID: ...", "!ICCID: ...", "+ICCID: ..." or a bare number. A
// trailing F is padding. Some firmware returns the raw EF_ICCID with the
// digits of each BCD byte swapped: every real ICCID starts with 89 (the
// telecom industry identifier), so a leading 98 means swapped.
func ParseCCID(line string) (string, error) {
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
	if len(s) < 18 || len(s) > 22 {
		return "", fmt.Errorf("ICCID %q: bad length", line)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("ICCID %q: not digits", line)
		}
	}
	return s, nil
}

// ParseIMEI extracts the 15-digit IMEI from "+CGSN: ..." or a bare line.
func ParseIMEI(line string) (string, error) {
	s := line
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Trim(strings.TrimSpace(s), "\"")
	if len(s) < 14 || len(s) > 17 {
		return "", fmt.Errorf("IMEI %q: bad length", line)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("IMEI %q: not digits", line)
		}
	}
	return s, nil
}

// ParseIMSI checks a bare IMSI line.
func ParseIMSI(line string) (string, error) {
	s := strings.TrimSpace(line)
	if len(s) < 6 || len(s) > 15 {
		return "", fmt.Errorf("IMSI %q: bad length", line)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("IMSI %q: not digits", line)
		}
	}
	return s, nil
}

// ParseInfoLine takes the answer of +CGMI/+CGMM/+CGMR, which some modems
// prefix with the command name ("+CGMR: 11.608.13.02.00").
func ParseInfoLine(lines []string, prefix string) string {
	for _, l := range lines {
		if rest, ok := cutPrefixFold(l, prefix); ok {
			return strings.Trim(strings.TrimSpace(rest), "\"")
		}
	}
	if len(lines) > 0 {
		return strings.Trim(strings.TrimSpace(lines[0]), "\"")
	}
	return ""
}

// ParseQNETDEVSTATUS reads Quectel's call status indication: either
// "<state>" or "<cid>,<state>,"<type>"[,<cause>]" (state 1 up, 0 down; the
// cause a 24.008 session management cause when the network refused). The
// long form is unverified on real cards.
func ParseQNETDEVSTATUS(s string) (LinkStatus, bool) {
	f := Fields(s)
	switch {
	case len(f) == 1:
		return LinkStatus{Connected: f[0] == "1"}, f[0] == "0" || f[0] == "1"
	case len(f) >= 2:
		ls := LinkStatus{Connected: f[1] == "1"}
		if !ls.Connected && len(f) >= 4 && f[3] != "" && f[3] != "0" {
			ls.Cause = SMCause(f[3])
		}
		return ls, f[1] == "0" || f[1] == "1"
	}
	return LinkStatus{}, false
}
