package modemsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Faults of the answering itself, as cards in the field show them: an
// answer that comes after the box stopped waiting (so it lands on the next
// command), an answer sent twice, an error code the box has no word for,
// and state the card changes on its own (radio off, detach with the data
// link's carrier kept).

// FaultHelp lists the control commands of faults.go.
const FaultHelp = `late PREFIX N MS     the next N answers to commands starting with PREFIX (any: AT) come MS milliseconds late
twice N              the next N answers are sent twice
fail PREFIX FINAL... the next command starting with PREFIX ends with FINAL (e.g. fail AT+CGDCONT +CME ERROR: 921)
radio CFUN           the card sets +CFUN by itself (0, 1, 4) as after a firmware crash
detach STAT          registration becomes STAT (0, 2, 3, 4) while the data link keeps its carrier
attach               registration back to normal (after detach)
pintries N           the SIM has N PIN attempts left (someone tried wrong PINs in a phone)
simoff on|off        in CFUN 0 the card powers its SIM down: +CPIN? says NOT READY`

// answerFault is the pending faults of answers (guarded by Sim.mu).
type answerFault struct {
	lateWhen string // command prefix, upper case
	lateN    int
	lateBy   time.Duration
	twiceN   int
	failWhen string // command prefix, upper case
	failWith string
	// simOff: in CFUN 0 the SIM is powered down, as on cards whose
	// minimum functionality includes the SIM interface.
	simOff bool
}

// SIMOffInCFUN0 makes the card power its SIM down in CFUN 0 (+CPIN? then
// says NOT READY until the radio is on again).
func (s *Sim) SIMOffInCFUN0(on bool) {
	s.mu.Lock()
	s.faults.simOff = on
	s.mu.Unlock()
}

// LateAnswers makes the next n answers to commands starting with prefix
// ("AT": any) come d late (after the box's command timeout, when d is long
// enough).
func (s *Sim) LateAnswers(prefix string, n int, d time.Duration) {
	s.mu.Lock()
	s.faults.lateWhen, s.faults.lateN, s.faults.lateBy = strings.ToUpper(prefix), n, d
	s.mu.Unlock()
}

// AnswerTwice makes the next n answers be sent twice, as a card whose
// firmware repeats its output after a UART overrun does.
func (s *Sim) AnswerTwice(n int) {
	s.mu.Lock()
	s.faults.twiceN = n
	s.mu.Unlock()
}

// FailNext makes the next command starting with prefix end with final
// instead of its answer.
func (s *Sim) FailNext(prefix, final string) {
	s.mu.Lock()
	s.faults.failWhen, s.faults.failWith = strings.ToUpper(prefix), final
	s.mu.Unlock()
}

// SetRadio sets +CFUN as the card does by itself (a firmware crash that
// leaves the radio off, thermal flight mode): the data link drops when the
// radio leaves full function.
func (s *Sim) SetRadio(cfun int) error {
	switch cfun {
	case 0, 1, 4:
	default:
		return fmt.Errorf("radio %d: want 0, 1 or 4", cfun)
	}
	s.mu.Lock()
	s.cfun = cfun
	if cfun != 1 {
		s.dropLocked()
	}
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
	return nil
}

// Detach makes the network deregister the card (27.007 stat: 0 not
// searching, 2 searching, 3 denied, 4 unknown) without touching the data
// link: its carrier stays up, as on cards whose netdev keeps carrier until
// the next DHCP renewal fails.
func (s *Sim) Detach(stat int) error {
	switch stat {
	case 0, 2, 3, 4:
	default:
		return fmt.Errorf("detach %d: want 0, 2, 3 or 4", stat)
	}
	s.mu.Lock()
	s.regOverride = stat
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
	return nil
}

// Attach ends Detach: the network registers the card again.
func (s *Sim) Attach() {
	s.mu.Lock()
	if !s.keepDenialLocked(-1) {
		s.regOverride = -1
	}
	s.regChangedLocked()
	s.mu.Unlock()
	s.flush()
}

// SetPINAttempts sets the PIN attempts the SIM has left (1..3), as after
// wrong PINs tried in a phone before the SIM came to the box.
func (s *Sim) SetPINAttempts(n int) error {
	if n < 1 || n > 3 {
		return fmt.Errorf("pintries %d: want 1, 2 or 3", n)
	}
	s.mu.Lock()
	s.pinLeft = n
	s.mu.Unlock()
	return nil
}

// answerFaultLocked applies the pending faults to the answer of cmd: its
// final result, how late it comes and whether it is sent twice.
func (s *Sim) answerFaultLocked(cmd string, r *reply) (late time.Duration, twice bool) {
	f := &s.faults
	if f.failWhen != "" && strings.HasPrefix(strings.ToUpper(cmd), f.failWhen) {
		r.lines, r.final, r.prompt = nil, f.failWith, false
		f.failWhen, f.failWith = "", ""
	}
	if f.lateN > 0 && strings.HasPrefix(strings.ToUpper(cmd), f.lateWhen) {
		f.lateN--
		late = f.lateBy
	}
	if f.twiceN > 0 {
		f.twiceN--
		twice = true
	}
	return late, twice
}

// faultControl runs the control commands of FaultHelp.
func (s *Sim) faultControl(f []string, rest func(int) string) (out string, handled bool, err error) {
	num := func(i int) (int, error) {
		if i >= len(f) {
			return 0, fmt.Errorf("%s: missing number", f[0])
		}
		return strconv.Atoi(f[i])
	}
	switch f[0] {
	case "late":
		n, err1 := num(2)
		ms, err2 := num(3)
		if err1 != nil || err2 != nil || n <= 0 || ms <= 0 {
			return "", true, errors.New("late: want 'late PREFIX N MS'")
		}
		s.LateAnswers(f[1], n, time.Duration(ms)*time.Millisecond)
	case "twice":
		n, err := num(1)
		if err != nil || n <= 0 {
			return "", true, errors.New("twice: want 'twice N'")
		}
		s.AnswerTwice(n)
	case "fail":
		if len(f) < 3 {
			return "", true, errors.New("fail: want 'fail PREFIX FINAL'")
		}
		s.FailNext(f[1], rest(2))
	case "radio":
		n, err := num(1)
		if err != nil {
			return "", true, errors.New("radio: want 'radio 0|1|4'")
		}
		return "", true, s.SetRadio(n)
	case "detach":
		n, err := num(1)
		if err != nil {
			return "", true, errors.New("detach: want 'detach 0|2|3|4'")
		}
		return "", true, s.Detach(n)
	case "attach":
		s.Attach()
	case "simoff":
		switch rest(1) {
		case "on", "off":
			s.SIMOffInCFUN0(rest(1) == "on")
		default:
			return "", true, errors.New("simoff: want on or off")
		}
	case "pintries":
		n, err := num(1)
		if err != nil {
			return "", true, errors.New("pintries: want 'pintries N'")
		}
		return "", true, s.SetPINAttempts(n)
	default:
		return "", false, nil
	}
	return "", true, nil
}
