package modemsim

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"edgebox/modem"
)

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) (int, error) { return strconv.Atoi(strings.TrimSpace(s)) }

// exec runs one command line ("ATZ", "ATE0", "AT+CREG=2;+CGREG=2").
// Called with s.mu held.
func (s *Sim) exec(line string) reply {
	body := line[2:]
	var all []string
	for body != "" {
		var r reply
		switch c := body[0]; {
		case c == '+' || c == '^' || c == '*' || c == '$' || c == '%' || c == '!':
			// Extended commands run to the next ';'.
			part := body
			if i := strings.IndexByte(body, ';'); i >= 0 && !strings.HasPrefix(strings.ToUpper(body), "+CMGS") {
				part, body = body[:i], body[i+1:]
			} else {
				body = ""
			}
			r = s.extended(strings.TrimSpace(part))
		default:
			var basic string
			basic, body = splitBasic(body)
			r = s.basic(basic)
		}
		all = append(all, r.lines...)
		if r.final != "OK" || r.prompt {
			r.lines = all
			return r
		}
	}
	return ok(all...)
}

// splitBasic takes one V.250 basic command ("E0", "&F", "D*99#") off s.
func splitBasic(s string) (string, string) {
	if s == "" {
		return "", ""
	}
	up := strings.ToUpper(s)
	if up[0] == 'D' { // dial takes the rest of the line
		return s, ""
	}
	i := 1
	if up[0] == '&' && len(s) > 1 {
		i = 2
	}
	if up[0] == 'S' { // S0=0 / S0?
		for i < len(s) && (s[i] >= '0' && s[i] <= '9') {
			i++
		}
		if i < len(s) && (s[i] == '=' || s[i] == '?') {
			i++
		}
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	rest := s[i:]
	rest = strings.TrimLeft(rest, "; ")
	return s[:i], rest
}

func (s *Sim) basic(c string) reply {
	up := strings.ToUpper(c)
	switch {
	case up == "":
		return ok()
	case up == "Z" || up == "Z0" || up == "&F" || up == "&F0":
		s.echo = true
		s.cmee = 0
		return ok()
	case up == "E0":
		s.echo = false
		return ok()
	case up == "E1" || up == "E":
		s.echo = true
		return ok()
	case up == "V1" || up == "Q0" || up == "X4" || up == "&C1" || up == "&D2" || strings.HasPrefix(up, "S"):
		return ok()
	case up == "I" || up == "I0":
		return ok(s.prof.ati(s)...)
	case up == "H" || up == "H0":
		s.hangupAllLocked()
		if s.prof.ppp && s.link == 1 {
			s.setLink(0)
		}
		return ok()
	case strings.HasPrefix(up, "D"):
		return s.dial(up[1:])
	}
	if r, ok := s.voiceBasic(up); ok {
		return r
	}
	return s.unsupported()
}

func (s *Sim) unsupported() reply { return reply{final: s.prof.unsupported} }

func (s *Sim) dial(num string) reply {
	if strings.HasSuffix(num, ";") {
		return s.voiceDial(strings.TrimSuffix(num, ";"))
	}
	if !strings.HasPrefix(num, "*99") {
		return reply{final: "NO CARRIER"} // no voice on these modules
	}
	if !regOK(s.regStat()) {
		return reply{final: "NO CARRIER"}
	}
	s.setLink(1)
	s.dialed = len(s.cfg.PPPPeer) > 0 && s.prof.speaksPPP()
	return reply{final: "CONNECT 3600000"}
}

// args splits "=..." parameters; ok false when there is no '='.
func splitCmd(c string) (name, op string, args []string) {
	// Index the original: ToUpper may change the length of invalid UTF-8.
	i := strings.IndexAny(c, "=?")
	if i < 0 {
		return strings.ToUpper(c), "", nil
	}
	name = strings.ToUpper(c[:i])
	rest := c[i:]
	switch {
	case rest == "?":
		return name, "?", nil
	case rest == "=?":
		return name, "=?", nil
	case strings.HasPrefix(rest, "="):
		return name, "=", modem.Fields(rest[1:])
	}
	return name, rest, nil
}

func (s *Sim) extended(c string) reply {
	name, op, args := splitCmd(c)
	if op == "=?" {
		if name == "+COPS" {
			return s.copsScan() // the network scan (round4.go)
		}
		return ok() // test commands: accepted, no detail
	}
	if s.prof.vendor == "ericsson" && !s.ready {
		switch name {
		case "*EMRDY", "+CGMI", "+CGMM", "+CGMR", "+CGSN", "+CMEE":
		default:
			return s.cme(modem.CMESIMBusy)
		}
	}
	if r, handled := s.voiceExtended(name, op, args); handled {
		return r
	}
	if r, handled := s.prof.handle(s, name, op, args); handled {
		return r
	}
	for _, cmd := range []func(name, op string, args []string) (reply, bool){s.identityCmd, s.networkCmd, s.pdpCmd, s.smsCmd} {
		if r, handled := cmd(name, op, args); handled {
			return r
		}
	}
	return s.unsupported()
}

// identityCmd answers the card's and the SIM's identity, PIN and power.
func (s *Sim) identityCmd(name, op string, args []string) (reply, bool) {
	switch name {
	case "+CGMI", "+GMI":
		return ok(s.prof.cgmi), true
	case "+CGMM", "+GMM":
		return ok(s.prof.cgmm), true
	case "+CGMR", "+GMR":
		return ok(s.prof.cgmr), true
	case "+CGSN", "+GSN":
		return ok(s.cfg.IMEI), true
	case "+CNUM":
		if !s.simPresent {
			return s.cme(modem.CMESIMNotInserted), true
		}
		if s.simLocked() {
			return s.cme(modem.CMESIMPINRequired), true
		}
		if s.cfg.Number == "" {
			return ok(), true
		}
		return ok(fmt.Sprintf(`+CNUM: "","%s",145`, s.cfg.Number)), true
	case "+CIMI":
		if !s.simPresent {
			return s.cme(modem.CMESIMNotInserted), true
		}
		if s.simLocked() {
			return s.cme(modem.CMESIMPINRequired), true
		}
		return ok(s.cfg.IMSI), true
	case "+CCID", "^ICCID", "+QCCID", "+ICCID", "!ICCID":
		if !s.simPresent {
			return s.cme(modem.CMESIMNotInserted), true
		}
		return ok(s.prof.ccidPrefix + s.cfg.ICCID), true
	case "+CMEE":
		if op == "?" {
			return ok("+CMEE: " + itoa(s.cmee)), true
		}
		if len(args) == 1 {
			if v, err := atoi(args[0]); err == nil && v >= 0 && v <= 2 {
				s.cmee = v
				return ok(), true
			}
		}
		return s.cme(50), true
	case "+CFUN":
		return s.cfunCmd(op, args), true
	case "+CPIN":
		return s.cpin(op, args), true
	case "+CPINR":
		if !s.simPresent {
			return s.cme(modem.CMESIMNotInserted), true
		}
		return ok(fmt.Sprintf("+CPINR: SIM PIN,%d,3", s.pinLeft), fmt.Sprintf("+CPINR: SIM PUK,%d,10", s.pukLeft)), true
	}
	return reply{}, false
}

// networkCmd answers registration, operator and signal queries.
func (s *Sim) networkCmd(name, op string, args []string) (reply, bool) {
	switch name {
	case "+CREG", "+CGREG", "+CEREG":
		return s.cregCmd(name, op, args), true
	case "+COPS":
		if op == "?" {
			if regOK(s.regStat()) {
				return ok(fmt.Sprintf("+COPS: 0,0,\"%s\",%d", s.cfg.Operator, s.prof.act)), true
			}
			return ok("+COPS: 0"), true
		}
		return ok(), true
	case "+CSQ":
		if !regOK(s.regStat()) {
			return ok("+CSQ: 99,99"), true
		}
		return ok("+CSQ: 20,99"), true
	case "+CESQ":
		if !regOK(s.regStat()) {
			return ok("+CESQ: 99,99,255,255,255,255"), true
		}
		if s.prof.act == 7 {
			return ok("+CESQ: 99,99,255,255,20,45"), true
		}
		return ok("+CESQ: 99,99,40,30,255,255"), true
	}
	return reply{}, false
}

// pdpCmd answers the packet-data context commands.
func (s *Sim) pdpCmd(name, op string, args []string) (reply, bool) {
	switch name {
	case "+CGDCONT":
		if op == "?" {
			var lines []string
			for cid := 1; cid <= 16; cid++ {
				if apn, ok := s.pdp[cid]; ok {
					lines = append(lines, fmt.Sprintf("+CGDCONT: %d,\"IP\",\"%s\",\"0.0.0.0\",0,0", cid, apn))
				}
			}
			return ok(lines...), true
		}
		if len(args) >= 1 {
			cid, err := atoi(args[0])
			if err != nil || cid < 1 || cid > 16 {
				return s.cme(50), true
			}
			if len(args) == 1 {
				delete(s.pdp, cid)
				return ok(), true
			}
			apn := ""
			if len(args) >= 3 {
				apn = args[2]
			}
			if s.cscs == "UCS2" {
				// String parameters are UCS-2 hex now: a plain APN is
				// an invalid parameter, as on a real card.
				a, ok := fromUCS2Hex(apn)
				if !ok {
					return s.cme(50), true
				}
				apn = a
			}
			s.pdp[cid] = apn
			return ok(), true
		}
		return s.cme(50), true
	case "+CGACT":
		if op == "?" {
			return ok(fmt.Sprintf("+CGACT: 1,%d", boolInt(s.link == 1))), true
		}
		if len(args) >= 1 {
			if args[0] == "1" {
				if !regOK(s.regStat()) {
					return s.cme(modem.CMENoNetwork), true
				}
				if s.cfg.AcceptAPN != "" && !strings.EqualFold(s.pdp[1], s.cfg.AcceptAPN) {
					return s.cme(533), true // 27.007: missing or unknown APN
				}
				s.apn = s.pdp[1]
				s.setLink(1)
				return ok(), true
			}
			s.setLink(0)
			return ok(), true
		}
		return s.cme(50), true
	}
	return reply{}, false
}

// smsCmd answers the SMS set-up, storage and send commands.
func (s *Sim) smsCmd(name, op string, args []string) (reply, bool) {
	switch name {
	case "+CMGF":
		if op == "?" {
			return ok("+CMGF: " + itoa(s.cmgf)), true
		}
		if len(args) == 1 && (args[0] == "0" || args[0] == "1") {
			s.cmgf, _ = atoi(args[0])
			return ok(), true
		}
		return s.cms(304), true
	case "+CNMI":
		if len(args) >= 2 {
			v, err := atoi(args[1])
			if err != nil || v < 0 || v > 3 {
				return s.cms(304), true
			}
			s.cnmiMT = v
		}
		return ok(), true
	case "+CPMS":
		used := len(s.sms)
		c := s.cfg.SMSCapacity
		if op == "?" {
			return ok(fmt.Sprintf("+CPMS: \"SM\",%d,%d,\"SM\",%d,%d,\"SM\",%d,%d", used, c, used, c, used, c)), true
		}
		return ok(fmt.Sprintf("+CPMS: %d,%d,%d,%d,%d,%d", used, c, used, c, used, c)), true
	case "+CSCA":
		return ok("+CSCA: \"+447785016005\",145"), true
	case "+CSCS":
		if op == "?" {
			return ok(`+CSCS: "` + s.cscs + `"`), true
		}
		if len(args) == 1 {
			switch cs := strings.ToUpper(args[0]); cs {
			case "GSM", "IRA", "UCS2":
				s.cscs = cs
				return ok(), true
			}
		}
		return s.cme(50), true
	case "+CSMS", "+CGEREP", "+CRC", "+CLIP":
		return ok(), true
	case "+CMGL":
		return s.cmgl(args), true
	case "+CMGR":
		return s.cmgr(args), true
	case "+CMGD":
		return s.cmgd(args), true
	case "+CMGS":
		if !s.simPresent {
			return s.cms(310), true
		}
		if s.cmgf != 0 {
			return s.cms(302), true
		}
		if len(args) != 1 {
			return s.cms(304), true
		}
		if n, err := atoi(args[0]); err != nil || n < 7 || n > 164 {
			return s.cms(304), true
		}
		return reply{prompt: true}, true
	}
	return reply{}, false
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Sim) cfunCmd(op string, args []string) reply {
	if op == "?" {
		return ok("+CFUN: " + itoa(s.cfun))
	}
	if len(args) == 0 {
		return s.cme(50)
	}
	v, err := atoi(args[0])
	if err != nil {
		return s.cme(50)
	}
	if len(args) >= 2 && args[1] == "1" {
		// Reset after the OK.
		s.later(s.cfg.ConnectDelay, func() { s.powerOn(true) })
		return ok()
	}
	if v == 1 && s.round6.cfunStuck {
		return ok() // taken, and nothing happens (round6.go)
	}
	switch v {
	case 0, 1, 4, 7:
		if v == 1 && s.cfun != 1 {
			s.radioCycledLocked() // round6.go
		}
		s.cfun = v
		if v != 1 {
			s.dropLocked()
		}
		s.regChangedLocked()
		return ok()
	}
	return s.cme(50)
}

func (s *Sim) cpin(op string, args []string) reply {
	if !s.simPresent {
		return s.cme(modem.CMESIMNotInserted)
	}
	if op == "?" {
		switch {
		case s.faults.simOff && s.cfun == 0:
			return ok("+CPIN: NOT READY")
		case s.pinLeft == 0 && s.pukLeft > 0:
			return ok("+CPIN: SIM PUK")
		case s.pukLeft == 0:
			return s.cme(262)
		case s.simLocked(), time.Now().Before(s.pinLagUntil):
			return ok("+CPIN: SIM PIN")
		}
		return ok("+CPIN: READY")
	}
	if len(args) == 0 {
		return s.cme(50)
	}
	if s.pinLeft == 0 { // PUK state: +CPIN="puk","newpin"
		if len(args) != 2 {
			return s.cme(modem.CMESIMPUKRequired)
		}
		if s.pukLeft == 0 {
			return s.cme(262) // blocked for good
		}
		if args[0] != s.puk {
			s.pukLeft--
			return s.cme(modem.CMEIncorrectPass)
		}
		s.pin, s.pinLeft, s.pukLeft, s.simUnlocked = args[1], 3, 10, true
		s.urcLocked("+CPIN: READY")
		s.regChangedLocked()
		return ok()
	}
	if !s.simLocked() {
		return s.cme(modem.CMENotAllowed)
	}
	if args[0] != s.pin {
		s.pinLeft--
		if s.pinLeft == 0 {
			return s.cme(modem.CMEIncorrectPass)
		}
		return s.cme(modem.CMEIncorrectPass)
	}
	s.pinLeft = 3
	s.simUnlocked = true
	lag := s.prof.pinReadyLag
	if s.cfg.PINReadyLag != 0 {
		lag = max(s.cfg.PINReadyLag, 0)
	}
	s.pinLagUntil = time.Now().Add(lag)
	ready := func() {
		for _, u := range s.prof.simReadyURCs {
			s.urcLocked(u)
		}
	}
	if lag > 0 {
		s.later(lag, ready) // the card tells it is ready when it is
	} else {
		ready()
	}
	s.regChangedLocked()
	return ok()
}

func (s *Sim) cregCmd(name, op string, args []string) reply {
	i := map[string]int{"+CREG": 0, "+CGREG": 1, "+CEREG": 2}[name]
	if op == "?" {
		st := s.regStat()
		n := s.cregN[i]
		if n >= 2 && regOK(st) {
			return ok(fmt.Sprintf("%s: %d,%d,\"00C3\",\"0000A13F\",%d", name, n, st, s.prof.act))
		}
		if r, denied := s.deniedWithCause(name, n, st); denied {
			return r
		}
		return ok(fmt.Sprintf("%s: %d,%d", name, n, st))
	}
	if len(args) == 1 {
		if v, err := atoi(args[0]); err == nil && v >= 0 && v <= 3 {
			s.cregN[i] = v
			return ok()
		}
	}
	return s.cme(50)
}

func (s *Sim) cmgl(args []string) reply {
	if !s.simPresent {
		return s.cms(310)
	}
	if s.cmgf != 0 {
		return s.cms(302)
	}
	want := 4
	if len(args) >= 1 {
		v, err := atoi(args[0])
		if err != nil || v < 0 || v > 4 {
			return s.cms(304)
		}
		want = v
	}
	var lines []string
	for i := 0; i < s.cfg.SMSCapacity; i++ {
		m, ok := s.sms[i]
		if !ok || (want != 4 && m.stat != want) {
			continue
		}
		lines = append(lines, fmt.Sprintf("+CMGL: %d,%d,,%d", i, m.stat, tpduLen(m.pdu)), m.pdu)
		if m.stat == 0 {
			m.stat = 1
			s.sms[i] = m
		}
	}
	return ok(lines...)
}

func (s *Sim) cmgr(args []string) reply {
	if !s.simPresent {
		return s.cms(310)
	}
	if len(args) != 1 {
		return s.cms(304)
	}
	i, err := atoi(args[0])
	if err != nil || i < 0 || i >= s.cfg.SMSCapacity {
		return s.cms(321)
	}
	m, found := s.sms[i]
	if !found {
		if s.prof.vendor == "huawei" {
			return ok() // Huawei answers an empty slot with a bare OK
		}
		return s.cms(321)
	}
	st := m.stat
	if m.stat == 0 {
		m.stat = 1
		s.sms[i] = m
	}
	return ok(fmt.Sprintf("+CMGR: %d,,%d", st, tpduLen(m.pdu)), m.pdu)
}

func (s *Sim) cmgd(args []string) reply {
	if !s.simPresent {
		return s.cms(310)
	}
	if len(args) < 1 {
		return s.cms(304)
	}
	i, err := atoi(args[0])
	if err != nil || i < 0 || i >= s.cfg.SMSCapacity {
		return s.cms(321)
	}
	if len(args) >= 2 && args[1] == "4" {
		s.sms = map[int]storedSMS{}
		return ok()
	}
	delete(s.sms, i)
	return ok()
}

// leHex is Huawei's ^DHCP encoding: little-endian hex, leading zero dropped.
func leHex(a netip.Addr) string {
	b := a.As4()
	return strings.TrimPrefix(fmt.Sprintf("%02X%02X%02X%02X", b[3], b[2], b[1], b[0]), "0")
}

func maskOf(p netip.Prefix) netip.Addr {
	var m [4]byte
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom4(m)
}

// fromUCS2Hex decodes "0069006E" (UCS-2 hex, ASCII only here).
func fromUCS2Hex(h string) (string, bool) {
	if h == "" {
		return "", true
	}
	if len(h)%4 != 0 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		v, err := strconv.ParseUint(h[i:i+4], 16, 16)
		if err != nil || v >= 0x80 {
			return "", false
		}
		b.WriteByte(byte(v))
	}
	return b.String(), true
}

// toUCS2Hex is the UCS-2 hex form of an ASCII string.
func toUCS2Hex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%04X", s[i])
	}
	return b.String()
}
