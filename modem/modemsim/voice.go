package modemsim

// Voice calls (issue 19): incoming calls with RING/+CRING and +CLIP every
// ring interval until answered, ATD<number>; with a chosen outcome, ATA,
// AT+CHUP/ATH/AT+CHLD=1x, AT+CLCC, AT+VTS/AT^DTMF, AT+CEER, the vendors'
// voice switches (Huawei ^CVOICE/^DDSETEX, Quectel +QPCMV/+QTONEDET), and
// SMS status reports (+CDS) for sent messages. All state is under Sim.mu.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"edgebox/modem"
)

// 27.007 +CME ERROR codes of the voice commands.
const (
	cmeInvalidDialChars = 27 // invalid characters in dial string
	cmeBadParameter     = 50 // incorrect parameters
)

// VoiceTiming are the simulated network's delays.
type VoiceTiming struct {
	Ring     time.Duration // between RINGs of an incoming call (3 s)
	Alert    time.Duration // ATD until the far end rings (150 ms)
	Outcome  time.Duration // ringing until answer / busy / no carrier (300 ms)
	NoAnswer time.Duration // ringing until NO ANSWER (600 ms)
	Report   time.Duration // sent SMS until its status report (300 ms)
}

// DefaultVoiceTiming is what a new Sim uses.
var DefaultVoiceTiming = VoiceTiming{Ring: 3 * time.Second, Alert: 150 * time.Millisecond, Outcome: 300 * time.Millisecond, NoAnswer: 600 * time.Millisecond, Report: 300 * time.Millisecond}

// Dial outcomes for the next ATD...; (control "dialresult").
var dialResults = []string{"answer", "busy", "noanswer", "nocarrier", "nonetwork", "invalid"}

// SimCall is one call as the simulator keeps it.
type SimCall struct {
	Index    int       `json:"index"`
	Incoming bool      `json:"incoming"`
	Stat     int       `json:"stat"` // +CLCC <stat>: 0 active, 2 dialing, 3 alerting, 4 incoming, 5 waiting
	Number   string    `json:"number,omitempty"`
	Withheld bool      `json:"withheld,omitempty"`
	Since    time.Time `json:"since"`
	gen      int       // bootGen: a reboot ends every call
	outcome  string
}

type voiceSim struct {
	timing     VoiceTiming
	calls      map[int]*SimCall
	dialResult string // for the next ATD; "" = answer
	clip, crc  bool
	cvoice     int  // Huawei ^CVOICE mode (1: off until ^CVOICE=0)
	ddsetex    bool // Huawei ^DDSETEX=2 seen on this call
	qpcmv      bool // Quectel +QPCMV=1,0
	tonedet    bool // Quectel +QTONEDET=1
	ds         int  // +CNMI <ds>: 1 = +CDS
	reportFail bool // status reports say "failed" (control "smsreport fail")
	lastCEER   string
	dtmfRx     []string // digits the box sent (AT+VTS / AT^DTMF)
	dialed     []string // numbers the box dialled
	audio      *audioState
}

func (s *Sim) v() *voiceSim {
	if s.voice == nil {
		s.voice = &voiceSim{timing: DefaultVoiceTiming, calls: map[int]*SimCall{}, cvoice: 1, audio: newAudioState()}
	}
	return s.voice
}

// SetVoiceTiming replaces the delays (tests shorten them).
func (s *Sim) SetVoiceTiming(t VoiceTiming) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.v().timing = t
}

// VoiceHelp lists the voice control commands.
const VoiceHelp = `call NUMBER|withheld  an incoming call: RING/+CLIP every 3 s until answered or hung up
hangup [N]           the far end hangs up call N (default all): NO CARRIER
dialresult R         outcome of the next ATD...;: answer busy noanswer nocarrier nonetwork invalid
dtmf DIGITS          the far end sends DTMF (Quectel +QTONEDET, after AT+QTONEDET=1)
smsreport deliver|fail  status reports of SMS sent from now on
calls                JSON: calls, DTMF the box sent, numbers it dialled
audio [tone HZ|detect HZ]  JSON audio statistics; set the far party's tone / the analysed frequency`

// voiceControl runs a voice control command; handled false when f[0] is
// not one.
func (s *Sim) voiceControl(f []string) (out string, handled bool, err error) {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "call":
		if arg(1) == "" {
			return "", true, errors.New("call: want 'call NUMBER' or 'call withheld'")
		}
		idx, err := s.IncomingCall(arg(1))
		return fmt.Sprint(idx), true, err
	case "hangup":
		n := 0
		if arg(1) != "" {
			if _, err := fmt.Sscan(arg(1), &n); err != nil || n < 1 {
				return "", true, errors.New("hangup: want a call index")
			}
		}
		return "", true, s.RemoteHangup(n)
	case "dialresult":
		return "", true, s.SetDialResult(arg(1))
	case "dtmf":
		return "", true, s.RemoteDTMF(arg(1))
	case "smsreport":
		switch arg(1) {
		case "deliver", "fail":
			s.mu.Lock()
			s.v().reportFail = arg(1) == "fail"
			s.mu.Unlock()
			return "", true, nil
		}
		return "", true, errors.New("smsreport: want deliver or fail")
	case "calls":
		b, err := json.Marshal(s.VoiceState())
		return string(b), true, err
	case "audio":
		if arg(1) != "" {
			var hz float64
			if _, err := fmt.Sscan(arg(2), &hz); err != nil || hz <= 0 || hz >= 4000 {
				return "", true, errors.New("audio: want 'audio tone HZ' or 'audio detect HZ' with 0 < HZ < 4000")
			}
			switch arg(1) {
			case "tone":
				s.SetAudio(hz, 0)
			case "detect":
				s.SetAudio(0, hz)
			default:
				return "", true, errors.New("audio: want tone or detect")
			}
			return "", true, nil
		}
		b, err := json.Marshal(s.AudioStats())
		return string(b), true, err
	}
	return "", false, nil
}

// VoiceState is what control "calls" shows.
type VoiceState struct {
	Calls  []SimCall `json:"calls"`
	DTMF   []string  `json:"dtmf"`   // digits the box sent, in order
	Dialed []string  `json:"dialed"` // numbers the box dialled
}

// VoiceState returns the calls, the DTMF digits the box sent and the
// numbers it dialled.
func (s *Sim) VoiceState() VoiceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.v()
	st := VoiceState{DTMF: append([]string{}, v.dtmfRx...), Dialed: append([]string{}, v.dialed...)}
	for _, c := range s.liveCallsLocked() {
		st.Calls = append(st.Calls, *c)
	}
	return st
}

// liveCallsLocked are the calls, by index, without those a reboot ended.
func (s *Sim) liveCallsLocked() []*SimCall {
	v := s.v()
	var out []*SimCall
	for i, c := range v.calls {
		if c.gen != s.bootGen {
			delete(v.calls, i)
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

func (s *Sim) newCallLocked(incoming bool, number string, withheld bool, stat int) (*SimCall, error) {
	live := s.liveCallsLocked()
	used := map[int]bool{}
	for _, c := range live {
		used[c.Index] = true
	}
	for i := 1; i <= 7; i++ {
		if !used[i] {
			c := &SimCall{Index: i, Incoming: incoming, Stat: stat, Number: number, Withheld: withheld, Since: time.Now(), gen: s.bootGen}
			s.v().calls[i] = c
			return c, nil
		}
	}
	return nil, errors.New("no free call index (7 calls)")
}

// IncomingCall makes number call the SIM ("withheld" withholds it). The
// modem rings at once and every ring interval until the call is answered
// or ended. It returns the call index.
func (s *Sim) IncomingCall(number string) (int, error) {
	withheld := number == "withheld"
	if withheld {
		number = ""
	} else if err := modem.CheckDialNumber(number); err != nil {
		return 0, err
	}
	s.mu.Lock()
	if !regOK(s.regStat()) {
		s.mu.Unlock()
		return 0, errors.New("call: the modem is not registered")
	}
	stat := 4
	for _, c := range s.liveCallsLocked() {
		if c.Stat == 0 {
			stat = 5 // waiting
		}
	}
	c, err := s.newCallLocked(true, number, withheld, stat)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	s.ringLocked(c)
	s.mu.Unlock()
	s.flush()
	return c.Index, nil
}

// ringLocked sends RING (+CRING: VOICE after AT+CRC=1) and +CLIP (after
// AT+CLIP=1), then again after the ring interval while c still rings.
func (s *Sim) ringLocked(c *SimCall) {
	v := s.v()
	if v.calls[c.Index] != c || (c.Stat != 4 && c.Stat != 5) {
		return
	}
	if v.crc {
		s.urcLocked("+CRING: VOICE")
	} else {
		s.urcLocked("RING")
	}
	if v.clip {
		if c.Withheld {
			// 27.007: empty number, type 128, CLI validity 1.
			s.urcLocked(`+CLIP: "",128,,,,1`)
		} else {
			typ := 129
			if strings.HasPrefix(c.Number, "+") {
				typ = 145
			}
			s.urcLocked(fmt.Sprintf(`+CLIP: "%s",%d,,,,0`, c.Number, typ))
		}
	}
	s.later(v.timing.Ring, func() { s.ringLocked(c) })
}

// RemoteHangup ends call idx (0: all) from the far end: NO CARRIER (and
// Huawei ^CEND with cause 16, normal clearing).
func (s *Sim) RemoteHangup(idx int) error {
	s.mu.Lock()
	found := false
	for _, c := range s.liveCallsLocked() {
		if idx == 0 || c.Index == idx {
			found = true
			s.endCallLocked(c, 16, "NO CARRIER")
		}
	}
	s.mu.Unlock()
	s.flush()
	if !found {
		return errors.New("hangup: no such call")
	}
	return nil
}

// endCallLocked removes c and reports the end: Huawei ^CEND with the
// 24.008 cause, then final (NO CARRIER, BUSY, NO ANSWER; "" none).
func (s *Sim) endCallLocked(c *SimCall, cause int, final string) {
	v := s.v()
	if v.calls[c.Index] != c {
		return
	}
	delete(v.calls, c.Index)
	if s.prof.vendor == "huawei" {
		dur := 0
		if c.Stat == 0 {
			dur = int(time.Since(c.Since).Seconds())
		}
		s.urcLocked(fmt.Sprintf("^CEND:%d,%d,104,%d", c.Index, dur, cause))
	}
	if final != "" {
		s.urcLocked(final)
	}
	if !s.anyActiveLocked() {
		v.ddsetex = false // the next call needs ^DDSETEX=2 again
	}
}

func (s *Sim) anyActiveLocked() bool {
	for _, c := range s.liveCallsLocked() {
		if c.Stat == 0 {
			return true
		}
	}
	return false
}

// SetDialResult sets the outcome of the next ATD...;.
func (s *Sim) SetDialResult(r string) error {
	for _, ok := range dialResults {
		if r == ok {
			s.mu.Lock()
			s.v().dialResult = r
			s.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("dialresult: want one of %s", strings.Join(dialResults, " "))
}

// RemoteDTMF sends digits from the far end: Quectel reports them as
// +QTONEDET: <ASCII code> after AT+QTONEDET=1; other cards say nothing.
func (s *Sim) RemoteDTMF(digits string) error {
	if err := modem.CheckDTMF(digits); err != nil {
		return err
	}
	s.mu.Lock()
	defer func() { s.mu.Unlock(); s.flush() }()
	if !s.anyActiveLocked() {
		return errors.New("dtmf: no active call")
	}
	if s.v().tonedet {
		for i := 0; i < len(digits); i++ {
			s.urcLocked(fmt.Sprintf("+QTONEDET: %d", digits[i]))
		}
	}
	return nil
}

// answerCallLocked makes c active and starts the audio clock.
func (s *Sim) answerCallLocked(c *SimCall) {
	c.Stat = 0
	c.Since = time.Now()
	s.v().audio.callStarted()
}

// voiceDial handles ATD<num>; (num without the ';').
func (s *Sim) voiceDial(num string) reply {
	v := s.v()
	result := v.dialResult
	v.dialResult = ""
	if result == "" {
		result = "answer"
	}
	if err := modem.CheckDialNumber(num); err != nil {
		return s.cme(cmeInvalidDialChars)
	}
	v.dialed = append(v.dialed, num)
	if !regOK(s.regStat()) || result == "nonetwork" {
		v.lastCEER = "No service"
		return s.cme(modem.CMENoNetwork)
	}
	c, err := s.newCallLocked(false, num, false, 2)
	if err != nil {
		return s.cme(modem.CMEUnknown)
	}
	c.outcome = result
	if s.prof.vendor == "huawei" {
		s.urcLockedAfterReply(fmt.Sprintf("^ORIG:%d,0", c.Index))
	}
	t := v.timing
	s.later(t.Alert, func() {
		if v.calls[c.Index] != c {
			return
		}
		switch result {
		case "busy":
			v.lastCEER = "User busy"
			s.endCallLocked(c, 17, "BUSY")
			return
		case "invalid":
			v.lastCEER = "Unassigned (unallocated) number"
			s.endCallLocked(c, 1, "NO CARRIER")
			return
		}
		c.Stat = 3
		if s.prof.vendor == "huawei" {
			s.urcLocked(fmt.Sprintf("^CONF:%d", c.Index))
		}
		wait := t.Outcome
		if result == "noanswer" {
			wait = t.NoAnswer
		}
		s.later(wait, func() {
			if v.calls[c.Index] != c {
				return
			}
			switch result {
			case "answer":
				s.answerCallLocked(c)
				if s.prof.vendor == "huawei" {
					s.urcLocked(fmt.Sprintf("^CONN:%d,0", c.Index))
				}
			case "noanswer":
				v.lastCEER = "User alerting, no answer"
				s.endCallLocked(c, 19, "NO ANSWER")
			case "nocarrier":
				v.lastCEER = "Normal, unspecified"
				s.endCallLocked(c, 31, "NO CARRIER")
			}
		})
	})
	return ok()
}

// urcLockedAfterReply queues line so it follows the reply being built
// (the reply is written before flush runs).
func (s *Sim) urcLockedAfterReply(line string) {
	s.later(20*time.Millisecond, func() { s.urcLocked(line) })
}

// voiceBasic handles ATA (ATH is in basic); handled false for other
// basic commands.
func (s *Sim) voiceBasic(up string) (reply, bool) {
	switch up {
	case "A":
		for _, c := range s.liveCallsLocked() {
			if c.Incoming && (c.Stat == 4 || c.Stat == 5) {
				s.answerCallLocked(c)
				if s.prof.vendor == "huawei" {
					s.urcLockedAfterReply(fmt.Sprintf("^CONN:%d,0", c.Index))
				}
				return ok(), true
			}
		}
		return reply{final: "NO CARRIER"}, true
	}
	return reply{}, false
}

func (s *Sim) hangupAllLocked() bool {
	any := false
	for _, c := range s.liveCallsLocked() {
		any = true
		s.endCallLocked(c, 16, "")
	}
	return any
}

// voiceExtended answers the voice and status-report commands; handled
// false lets the ordinary handler run (it also sees +CNMI, +CLIP, +CRC).
func (s *Sim) voiceExtended(name, op string, args []string) (reply, bool) {
	v := s.v()
	switch name {
	case "+CLIP":
		if op == "=" && len(args) == 1 {
			v.clip = args[0] == "1"
		}
		if op == "?" {
			return ok(fmt.Sprintf("+CLIP: %d,1", boolInt(v.clip))), true
		}
	case "+CRC":
		if op == "=" && len(args) == 1 {
			v.crc = args[0] == "1"
		}
	case "+CNMI":
		if op == "=" && len(args) >= 4 {
			if ds, err := atoi(args[3]); err == nil {
				v.ds = ds
			}
		}
	case "+CLCC":
		var lines []string
		for _, c := range s.liveCallsLocked() {
			typ := 129
			if strings.HasPrefix(c.Number, "+") {
				typ = 145
			}
			if c.Withheld {
				typ = 128
			}
			lines = append(lines, fmt.Sprintf(`+CLCC: %d,%d,%d,0,0,"%s",%d`, c.Index, boolInt(c.Incoming), c.Stat, c.Number, typ))
		}
		return ok(lines...), true
	case "+CHUP":
		s.hangupAllLocked()
		return ok(), true
	case "+CHLD":
		// Only 1x (release call x) is simulated.
		if op == "=" && len(args) == 1 && len(args[0]) == 2 && args[0][0] == '1' {
			idx := int(args[0][1] - '0')
			if c := v.calls[idx]; c != nil && c.gen == s.bootGen {
				s.endCallLocked(c, 16, "")
				return ok(), true
			}
		}
		return s.cme(modem.CMENotAllowed), true
	case "+VTS", "^DTMF":
		if name == "^DTMF" && s.prof.vendor != "huawei" {
			return s.unsupported(), true
		}
		d := ""
		if name == "+VTS" && len(args) == 1 {
			d = args[0]
		}
		if name == "^DTMF" && len(args) == 2 {
			d = args[1]
		}
		if op != "=" || len(d) != 1 || modem.CheckDTMF(d) != nil {
			return s.cme(cmeBadParameter), true
		}
		if !s.anyActiveLocked() {
			return s.cme(modem.CMENotAllowed), true
		}
		v.dtmfRx = append(v.dtmfRx, d)
		return ok(), true
	case "+CEER":
		text := v.lastCEER
		if text == "" {
			text = "No cause information available"
		}
		return ok(fmt.Sprintf(`+CEER: "%s"`, text)), true
	case "^CVOICE":
		if s.prof.vendor != "huawei" {
			return s.unsupported(), true
		}
		if op == "?" {
			return ok(fmt.Sprintf("^CVOICE:%d,8000,16,20", v.cvoice)), true
		}
		if op == "=" && len(args) == 1 && (args[0] == "0" || args[0] == "1") {
			v.cvoice, _ = atoi(args[0])
			return ok(), true
		}
		return s.cme(cmeBadParameter), true
	case "^DDSETEX":
		if s.prof.vendor != "huawei" {
			return s.unsupported(), true
		}
		if op == "=" && len(args) == 1 && args[0] == "2" {
			v.ddsetex = true
			return ok(), true
		}
		return s.cme(cmeBadParameter), true
	case "+QPCMV":
		if s.prof.vendor != "quectel" {
			return s.unsupported(), true
		}
		if op == "?" {
			if v.qpcmv {
				return ok("+QPCMV: 1,0"), true
			}
			return ok("+QPCMV: 0"), true
		}
		if op == "=" && len(args) >= 1 {
			switch {
			case args[0] == "0":
				v.qpcmv = false
				return ok(), true
			case args[0] == "1" && len(args) == 2 && args[1] == "0":
				v.qpcmv = true
				return ok(), true
			}
		}
		return errReply(), true
	case "+QTONEDET":
		if s.prof.vendor != "quectel" {
			return s.unsupported(), true
		}
		if op == "=" && len(args) == 1 {
			v.tonedet = args[0] == "1"
			return ok(), true
		}
		return errReply(), true
	}
	return reply{}, false
}

// voicePathOpenLocked reports whether the card's PCM port carries the
// call's audio: a call is active and the vendor's switches are set
// (Huawei ^CVOICE=0 and ^DDSETEX=2; Quectel +QPCMV=1,0; other profiles
// have no voice port, but the simulator lets tests use one anyway).
func (s *Sim) voicePathOpenLocked() bool {
	if !s.anyActiveLocked() {
		return false
	}
	v := s.v()
	switch s.prof.vendor {
	case "huawei":
		return v.cvoice == 0 && v.ddsetex
	case "quectel":
		return v.qpcmv
	}
	return true
}

// smsSubmittedLocked schedules the status report of a part sent with
// TP-SRR, as +CDS (AT+CNMI ds=1).
func (s *Sim) smsSubmittedLocked(to string, mr int, srr bool) {
	v := s.v()
	if !srr || v.ds != 1 {
		return
	}
	st := byte(0x00) // received by the SME
	if v.reportFail {
		st = 0x41 // permanent error: incompatible destination
	}
	sent := time.Now()
	s.later(v.timing.Report, func() {
		h, n, err := modem.EncodeStatusReport(mr, to, st, sent, time.Now())
		if err != nil {
			s.log.Warn("modemsim: status report", "err", err)
			return
		}
		s.urcLocked(fmt.Sprintf("+CDS: %d", n))
		s.urcLocked(h)
	})
}
