package netctl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"edgebox/internal/lazyregexp"
	"edgebox/modem"
)

// ModemNotResponding: the modem does not answer AT commands (hung, or
// being recovered); the box reopens, resets and power-cycles it.
const ModemNotResponding = "not-responding"

// sayRemoved is the status of a modem whose USB device left the system
// (the card pulled out, a USB modem unplugged): not a hang, so no word of
// restarting it, which would send the installer looking at the wrong
// thing.
const sayRemoved = "modem removed (USB device gone)"

// modemSilent reports an error that means the modem did not answer, as
// opposed to an answer that refused.
func modemSilent(err error) bool {
	return errors.Is(err, modem.ErrTimeout) || errors.Is(err, modem.ErrFaulty) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, modem.ErrRebooted)
}

// modemPrefix is the "modem /dev/ttyUSB2: " that package modem puts before
// its errors, and the "what: " parts that repeat it.
var modemPrefix = lazyregexp.New(`modem /dev/\S+: `)

// sayModemError turns a driver error into one sentence for installers:
// what happened and what to do, no tty paths, no Go jargon.
func sayModemError(err error) string {
	var refused *modem.ConnectRefusedError
	var nolink *modem.NoLinkError
	var cme *modem.CMEError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &refused):
		return refused.Error()
	case errors.As(err, &nolink):
		return nolink.Error()
	case errors.Is(err, modem.ErrRemoved):
		return sayRemoved
	case errors.Is(err, modem.ErrFaulty):
		return "the modem stopped answering and did not come back after a restart; power-cycle the box or reseat the modem card"
	case modemSilent(err):
		return "the modem does not answer; the box is restarting it (if this lasts, power-cycle the box or reseat the modem card)"
	case errors.Is(err, modem.ErrSuspended):
		return "the modem's only port is in use by the data call (pppd)"
	case errors.As(err, &cme):
		return fmt.Sprintf("the modem refused the command (%s)", cme.Meaning)
	}
	// Keep the innermost explanation, once, without the port.
	s := modemPrefix.ReplaceAllString(err.Error(), "")
	parts := strings.Split(s, ": ")
	out := parts[:0]
	for _, p := range parts {
		if len(out) > 0 && out[len(out)-1] == p {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ": ")
}

// sayConnectError is sayModemError for a failed dial.
func sayConnectError(err error, apn string) string {
	var refused *modem.ConnectRefusedError
	var nolink *modem.NoLinkError
	if errors.As(err, &refused) || errors.As(err, &nolink) || modemSilent(err) || errors.Is(err, modem.ErrRemoved) {
		return sayModemError(err)
	}
	return fmt.Sprintf("the data connection for APN %q failed: %s", apn, sayModemError(err))
}

// attemptsLeft is " (N attempts left)" when the card told the count.
func attemptsLeft(sim *modem.SIMStatus) string {
	if sim == nil || sim.PINAttempts < 0 {
		return ""
	}
	return fmt.Sprintf(" (%d attempts left)", sim.PINAttempts)
}

// sayPUK is the status of a SIM blocked after three wrong PINs. The box
// never enters a PUK by itself (ten wrong ones destroy the SIM): the
// installer enters it with a new PIN on the setup page (modem_puk.go).
func sayPUK(sim *modem.SIMStatus) string {
	if sim != nil && sim.PUKAttempts == 0 {
		// Ten wrong PUKs: no PUK opens it any more, a phone neither.
		return "the SIM is blocked for good (no PUK attempts left): ask the operator for a new SIM, put it in and set its PIN here"
	}
	// Whole sentences, so that the web's catalog (de.json) finds them.
	if sim != nil && sim.PUKAttempts > 0 {
		return fmt.Sprintf("the SIM is blocked after three wrong PINs (PUK required, %d PUK attempts left): enter the PUK from the SIM's card holder and a new PIN on the setup page (Mobile)", sim.PUKAttempts)
	}
	return "the SIM is blocked after three wrong PINs (PUK required): enter the PUK from the SIM's card holder and a new PIN on the setup page (Mobile)"
}
