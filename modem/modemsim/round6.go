package modemsim

import (
	"errors"
	"fmt"

	"edgebox/modem"
)

// Faults of the sixth round of the outside emulator: cards that keep
// quiet about what the box must still notice.

// Round6Help lists the control commands of round6.go.
const Round6Help = `regurc on|off        off: no +CREG/+CGREG/+CEREG URC whatever AT+CREG=2 asked (the state is only read), as cards that say nothing while connected
rejectsticky on|off  a denied registration stays in the card (SIM taken as invalid, as after EMM cause 3/6/8) when the network takes it again ('reg home', 'attach'), until the radio is switched off and on or the card restarts
cfunstuck on|off     the radio stays off (flight mode, +CFUN: 4 or 0) whatever AT+CFUN=1 says (it answers OK) until the card restarts, as after a firmware crash
cmeform plain|words|off  +CME errors whatever AT+CMEE says: plain ERROR, or the card's own words ("Incorrect PIN", "SIM not present"; not 27.007's)`

// round6Fault is the state of those faults (guarded by Sim.mu).
type round6Fault struct {
	// noRegURC: registration changes are never announced.
	noRegURC bool
	// rejectSticky: a denial outlives the network's change of mind;
	// deniedHeld: one is held back, deniedPending the state the network
	// now gives.
	rejectSticky  bool
	deniedHeld    bool
	deniedPending int
	// cfunStuck: AT+CFUN=1 is answered OK and changes nothing; a
	// restart ends it.
	cfunStuck bool
	// cmeForm: "plain" or "words" (CMEForm); "" as AT+CMEE says.
	cmeForm string
}

// RejectSticky makes a denied registration stay in the card when the
// network takes it again, until the radio is cycled or the card restarts
// (EMM causes 3, 6 and 8 mark the SIM invalid until then).
func (s *Sim) RejectSticky(on bool) {
	s.mu.Lock()
	s.round6.rejectSticky = on
	s.round6.deniedHeld = false
	s.mu.Unlock()
}

// keepDenialLocked: with RejectSticky, a change from denied to v is held
// back (true) until the radio cycles.
func (s *Sim) keepDenialLocked(v int) bool {
	if !s.round6.rejectSticky || s.regOverride != 3 || v == 3 {
		return false
	}
	s.round6.deniedHeld, s.round6.deniedPending = true, v
	return true
}

// radioCycledLocked applies a held-back registration once the radio went
// off (CFUN 0 or 4) and on, or the card restarted.
func (s *Sim) radioCycledLocked() {
	if s.round6.deniedHeld {
		s.regOverride = s.round6.deniedPending
		s.round6.deniedHeld = false
	}
}

// RadioStuck makes the radio stay as it is whatever AT+CFUN=1 says,
// until the card restarts (a vendor reset, AT+CFUN=1,1, the slot's
// power).
func (s *Sim) RadioStuck(on bool) {
	s.mu.Lock()
	s.round6.cfunStuck = on
	s.mu.Unlock()
}

// cardWords are a firmware's own words for +CME ERROR codes (guessed
// forms, as firmware differs from the 27.007 table).
var cardWords = map[int]string{10: "SIM not present", 11: "SIM PIN needed", 12: "SIM PUK needed", 14: "SIM is busy", 16: "Incorrect PIN", 30: "No network service."}

// CMEForm makes +CME errors plain ERROR ("plain"), or the card's own
// words ("words"), whatever AT+CMEE says; "" ends it.
func (s *Sim) CMEForm(form string) error {
	switch form {
	case "", "plain", "words":
	default:
		return fmt.Errorf("cmeform %q: want plain, words or off", form)
	}
	s.mu.Lock()
	s.round6.cmeForm = form
	s.mu.Unlock()
	return nil
}

// cmeRound6 is the +CME reply as the card words it; ok false: as CMEE says.
func (s *Sim) cmeRound6(code int) (reply, bool) {
	switch s.round6.cmeForm {
	case "plain":
		return reply{final: "ERROR"}, true
	case "words":
		if w, ok := cardWords[code]; ok {
			return reply{final: "+CME ERROR: " + w}, true
		}
		return reply{final: "+CME ERROR: " + modem.CMEMeaning(code)}, true
	}
	return reply{}, false
}

// RegistrationURCs turns the card's registration URCs on or off.
func (s *Sim) RegistrationURCs(on bool) {
	s.mu.Lock()
	s.round6.noRegURC = !on
	s.mu.Unlock()
}

// round6Control runs the control commands of round6.go; ok false when
// f[0] is none of them.
func (s *Sim) round6Control(f []string) (out string, ok bool, err error) {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "regurc":
		switch arg(1) {
		case "on", "off":
			s.RegistrationURCs(arg(1) == "on")
		default:
			return "", true, errors.New("regurc: want on or off")
		}
	case "cfunstuck":
		switch arg(1) {
		case "on", "off":
			s.RadioStuck(arg(1) == "on")
		default:
			return "", true, errors.New("cfunstuck: want on or off")
		}
	case "rejectsticky":
		switch arg(1) {
		case "on", "off":
			s.RejectSticky(arg(1) == "on")
		default:
			return "", true, errors.New("rejectsticky: want on or off")
		}
	case "cmeform":
		form := arg(1)
		if form == "off" {
			form = ""
		}
		return "", true, s.CMEForm(form)
	default:
		return "", false, nil
	}
	return "", true, nil
}
