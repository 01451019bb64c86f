package modemsim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Faults of the fourth round of the outside emulator: commands a card
// takes its time over (a network scan answers after up to 3 minutes on
// real cards, holding the port meanwhile).

// Round4Help lists the control commands of round4.go.
const Round4Help = `scan MS              AT+COPS=? (network scan) answers after MS milliseconds, the port busy meanwhile (real cards: up to 180 s)
puklock [N]          the SIM is blocked (three wrong PINs before it came to the box): +CPIN: SIM PUK, N PUK attempts left (default 10; 0: blocked for good, +CME ERROR: 262)
rebootat PREFIX      the card reboots instead of answering the next command starting with PREFIX (AT+CMGS: after the prompt and the PDU; AT+CPIN=: after taking the PIN)
rejectcause N        a denied registration (detach 3) comes with EMM cause N, shown by AT+CEREG? after AT+CEREG=3
simbusy MS           for MS milliseconds from now every command that reads the SIM answers +CME ERROR: 14 (SIM busy), as for seconds after boot`

// round4Fault is the state of those faults (guarded by Sim.mu).
type round4Fault struct {
	scan time.Duration
	// simBusyUntil: commands that read the SIM answer CME 14 until then.
	simBusyUntil time.Time
	// rejectCause: the EMM cause of a denied registration, given with
	// AT+CEREG=3 (0: none).
	rejectCause int
	// rebootAt: the card reboots instead of answering the next command
	// starting with it (upper case; "" none).
	rebootAt string
}

// RebootAt makes the card reboot instead of answering the next command
// starting with prefix: a firmware crash, a brown-out on the USB power.
// AT+CMGS gets its prompt and the PDU first, so the box is left waiting
// for the send's result; a command's effect (a PIN taken) stays done.
func (s *Sim) RebootAt(prefix string) {
	s.mu.Lock()
	s.round4.rebootAt = strings.ToUpper(strings.TrimSpace(prefix))
	s.mu.Unlock()
}

// rebootInsteadLocked reboots the card (deaf for BootTime, then its boot
// URCs) when r is the final answer to the command RebootAt names; the
// answer is then never sent.
func (s *Sim) rebootInsteadLocked(cmd string, r *reply) bool {
	p := s.round4.rebootAt
	if p == "" || r.prompt || !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(cmd)), p) {
		return false
	}
	s.round4.rebootAt = ""
	s.powerOn(true)
	return true
}

// RejectCause sets the EMM cause (24.301) the network gives with a denied
// registration (detach 3), shown by +CEREG? once AT+CEREG=3 is set.
func (s *Sim) RejectCause(cause int) {
	s.mu.Lock()
	s.round4.rejectCause = cause
	s.mu.Unlock()
}

// deniedWithCause is the answer to AT+CEREG? with n=3 while denied:
// "+CEREG: 3,3,,,,0,<cause>".
func (s *Sim) deniedWithCause(name string, n, st int) (reply, bool) {
	if name != "+CEREG" || n != 3 || st != 3 || s.round4.rejectCause == 0 {
		return reply{}, false
	}
	return ok(fmt.Sprintf("+CEREG: 3,3,,,,0,%d", s.round4.rejectCause)), true
}

// SIMBusyFor makes every command that reads the SIM answer +CME ERROR: 14
// (SIM busy) for d, as cards do for seconds after boot while the SIM
// initialises (its files are read, the phone book loaded).
func (s *Sim) SIMBusyFor(d time.Duration) {
	s.mu.Lock()
	s.round4.simBusyUntil = time.Now().Add(d)
	s.mu.Unlock()
}

// simCommands read the SIM: the PIN state and counters, IMSI, ICCID, own
// number, SMS storage.
var simCommands = []string{"AT+CPIN", "AT^CPIN", "AT+QPINC", "AT*EPIN", "AT+CIMI", "AT+CCID", "AT^ICCID",
	"AT+QCCID", "AT+ICCID", "AT+CNUM", "AT+CPMS", "AT+CMGL", "AT+CMGR", "AT+CLCK", "AT+CRSM"}

// simBusyLocked answers cmd with SIM busy while the SIM initialises.
func (s *Sim) simBusyLocked(cmd string, r *reply) {
	if time.Now().After(s.round4.simBusyUntil) {
		return
	}
	c := strings.ToUpper(strings.TrimSpace(cmd))
	for _, p := range simCommands {
		if strings.HasPrefix(c, p) {
			*r = s.cme(14)
			return
		}
	}
}

// ScanTime makes AT+COPS=? take d, as a real network scan does.
func (s *Sim) ScanTime(d time.Duration) {
	s.mu.Lock()
	s.round4.scan = d
	s.mu.Unlock()
}

// slowLocked is how long the card works on cmd before it answers.
func (s *Sim) slowLocked(cmd string) time.Duration {
	if strings.EqualFold(strings.TrimSpace(cmd), "AT+COPS=?") {
		return s.round4.scan
	}
	return 0
}

// copsScan is the answer to AT+COPS=?: the operator the card sees and
// the usual ranges of modes and formats.
func (s *Sim) copsScan() reply {
	return ok(fmt.Sprintf(`+COPS: (2,"%s","%s","26201",%d),,(0-4),(0-2)`, s.cfg.Operator, s.cfg.Operator, s.prof.act))
}

// round4Control runs the control commands of Round4Help.
func (s *Sim) round4Control(f []string) (out string, handled bool, err error) {
	switch f[0] {
	case "scan":
		if len(f) < 2 {
			return "", true, errors.New("scan: want 'scan MS'")
		}
		ms, err := strconv.Atoi(f[1])
		if err != nil || ms < 0 {
			return "", true, errors.New("scan: want 'scan MS'")
		}
		s.ScanTime(time.Duration(ms) * time.Millisecond)
	case "puklock":
		left := 10
		if len(f) >= 2 {
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 0 || n > 10 {
				return "", true, errors.New("puklock: want 'puklock [N]' (PUK attempts left, 0-10)")
			}
			left = n
		}
		s.BlockSIM(left)
	case "rebootat":
		if len(f) < 2 {
			return "", true, errors.New("rebootat: want 'rebootat PREFIX'")
		}
		s.RebootAt(f[1])
	case "rejectcause":
		n := -1
		if len(f) >= 2 {
			n, _ = strconv.Atoi(f[1])
		}
		if n < 0 || n > 255 {
			return "", true, errors.New("rejectcause: want 'rejectcause N' (0-255)")
		}
		s.RejectCause(n)
	case "simbusy":
		if len(f) < 2 {
			return "", true, errors.New("simbusy: want 'simbusy MS'")
		}
		ms, err := strconv.Atoi(f[1])
		if err != nil || ms < 0 {
			return "", true, errors.New("simbusy: want 'simbusy MS'")
		}
		s.SIMBusyFor(time.Duration(ms) * time.Millisecond)
	default:
		return "", false, nil
	}
	return "", true, nil
}

// BlockSIM blocks the SIM as three wrong PINs do (+CPIN: SIM PUK), with
// pukLeft PUK attempts left; 0 blocks it for good.
func (s *Sim) BlockSIM(pukLeft int) {
	s.mu.Lock()
	s.pinLeft = 0
	s.pukLeft = pukLeft
	s.simUnlocked = false
	s.mu.Unlock()
}
