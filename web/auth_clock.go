package web

import (
	"time"

	"edgebox/internal/clock"
)

// A box may start with its clock years behind (a flat RTC) and be set
// right later, by NTP or from the installer's phone. API tokens carry
// absolute times, so one made before that jump (the installer's first
// token, edgectl's) had ended long before the corrected clock, and was
// refused at once: the admin locked out the moment the box got the time
// right. A token made under a clock before 2024 (as the wizard's time
// check says: that clock is wrong) gets its full life again from the
// first look under a right one. Not the firmware's build time as the
// floor: every update would then renew the life of every older token.
// A token made under a clock ahead (stepped years forward, then set
// right) is moved back the same way: it would otherwise live until the
// wrong year.

// clockFloor is the earliest time a right clock can show (the NTP
// client's floor too).
var clockFloor = clock.Floor

// clockAheadSlack is how far ahead of now a token's making may lie before
// it counts as made under a clock ahead (small steps back are no reason
// to rewrite the file).
const clockAheadSlack = time.Hour

// rebaseWrongClockLocked moves the times of tokens made under a wrong
// clock to now, keeping their lifetime, and stores the change. a.mu is held.
func (a *Accounts) rebaseWrongClockLocked(now time.Time) {
	floor := clockFloor
	if now.Before(floor) {
		return // the clock is still wrong: nothing to compare with
	}
	d := a.data
	d.Tokens = nil
	changed := false
	for _, t := range a.data.Tokens {
		if t.Created.Before(floor) || t.Created.After(now.Add(clockAheadSlack)) {
			life := t.expires().Sub(t.Created)
			t.Created = now.UTC().Truncate(time.Second)
			t.Expires = t.Created.Add(life)
			changed = true
		}
		d.Tokens = append(d.Tokens, t)
	}
	if !changed {
		return
	}
	if err := a.saveLocked(d); err != nil {
		a.data = d // in force until the next restart at least
	}
}
