package modemsim

import (
	"errors"
)

// Faults of the sixth round of the outside emulator: cards that keep
// quiet about what the box must still notice.

// Round6Help lists the control commands of round6.go.
const Round6Help = `regurc on|off        off: no +CREG/+CGREG/+CEREG URC whatever AT+CREG=2 asked (the state is only read), as cards that say nothing while connected`

// round6Fault is the state of those faults (guarded by Sim.mu).
type round6Fault struct {
	// noRegURC: registration changes are never announced.
	noRegURC bool
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
	default:
		return "", false, nil
	}
	return "", true, nil
}
