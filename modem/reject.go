package modem

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Why the network denied the registration (+CEREG: 3). 27.007 gives the
// cause with +CEREG=3: <n>,<stat>,[<tac>],[<ci>],[<AcT>],<cause_type>,
// <reject_cause>, cause type 0 being an EMM cause of 24.301. Which of the
// supported cards take n=3 is not verified: one that refuses it gives no
// cause, and the box says only that it was denied.

// ErrNoRejectCause: the card gave no cause for the denial.
var ErrNoRejectCause = errors.New("the card gives no reject cause")

// RejectCause asks the card for the EMM cause of a denied registration
// and sets the registration reports back as init left them (n=2) in every
// path: once AT+CEREG=3 may have reached the card (even if its answer was
// lost or the caller gave up), n=2 is sent again on a context of its own,
// so a cancelled session does not leave the card reporting causes.
func (m *Modem) RejectCause(ctx context.Context) (cause int, err error) {
	_, err = m.eng.Command(ctx, "AT+CEREG=3", 0)
	if err != nil && isModemAnswer(err) {
		return 0, ErrNoRejectCause // refused: n is unchanged
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
		defer cancel()
		if _, rerr := m.eng.Command(rctx, "AT+CEREG=2", 0); rerr != nil && err == nil {
			err = m.wrap("reject cause: report mode not restored", rerr)
		}
	}()
	if err != nil {
		return 0, m.wrap("reject cause", err)
	}
	r, err := m.eng.Command(ctx, "AT+CEREG?", 0)
	if err != nil {
		return 0, m.wrap("reject cause", err)
	}
	l, ok := r.Line("+CEREG:")
	if !ok {
		return 0, ErrNoRejectCause
	}
	return parseRejectCause(l)
}

// restoreTimeout bounds a setting put back after its caller gave up.
const restoreTimeout = 5 * time.Second

// parseRejectCause reads the EMM cause from the answer to AT+CEREG? with
// n=3 ("3,3,,,,0,15").
func parseRejectCause(s string) (int, error) {
	f := Fields(s)
	if len(f) < 7 || f[0] != "3" {
		return 0, ErrNoRejectCause
	}
	if f[5] != "0" {
		return 0, fmt.Errorf("%w: cause type %s is the manufacturer's", ErrNoRejectCause, f[5])
	}
	c, err := strconv.Atoi(f[6])
	if err != nil || c < 0 {
		return 0, fmt.Errorf("reject cause %q: not a number", f[6])
	}
	return c, nil
}

// emmCauses are the 24.301 causes a network gives when it refuses a card,
// with what the installer can do about each.
var emmCauses = map[int]string{
	2:  "the network does not know this SIM (IMSI unknown): ask the operator to activate it",
	3:  "the network refuses this SIM (illegal UE): ask the operator whether it is blocked",
	5:  "the network refuses this modem's IMEI: ask the operator whether the device is allowed",
	6:  "the network refuses this device (illegal ME): ask the operator whether the IMEI is blocked",
	7:  "the SIM's plan has no LTE service: ask the operator to enable it, or allow 3G/2G",
	8:  "the SIM's plan allows no service on this network: ask the operator",
	11: "this network does not allow this SIM (PLMN not allowed): choose another operator or ask yours",
	12: "the SIM may not be used in this area (tracking area not allowed)",
	13: "roaming is not allowed here for this SIM: ask the operator to enable roaming",
	14: "the SIM's plan has no LTE data on this network: ask the operator",
	15: "no cell here may serve this SIM (no suitable cells): try another place or antenna",
	17: "the network failed (network failure): it will be tried again",
	22: "the network is congested: it will be tried again",
}

// RejectCauseWords says in words why the network denied the card, with
// what to do; the number is kept for the operator's hotline.
func RejectCauseWords(cause int) string {
	if w, ok := emmCauses[cause]; ok {
		return fmt.Sprintf("%s (reject cause %d)", w, cause)
	}
	return fmt.Sprintf("reject cause %d; ask the operator what it means for this SIM", cause)
}
