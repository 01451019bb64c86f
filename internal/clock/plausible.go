package clock

import (
	"fmt"
	"time"
)

// A time source (an NTP server named by an uplink's DHCP, or anyone on
// the path answering for it) may say any time. Stepping a box back years
// makes expired API tokens and certificates valid again (and the RTC keeps
// it across reboots); stepping it forward ends every token and session.
// No right clock shows a time before the firmware running on the box was
// built, nor before Floor, nor after Ceiling (the phone's time is refused
// outside the same years).
var (
	Floor   = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	Ceiling = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Plausible says why t cannot be the right time, or nil. built is the
// running firmware's build time (zero when unknown).
func Plausible(t, built time.Time) error {
	floor := Floor
	if built.After(floor) {
		floor = built
	}
	switch {
	case t.Before(floor):
		return fmt.Errorf("%s is before %s, the earliest a right clock shows here (2024, or the running firmware's build)", t.UTC().Format(time.DateTime), floor.UTC().Format(time.DateTime))
	case !t.Before(Ceiling):
		return fmt.Errorf("%s is not a plausible time (after %d)", t.UTC().Format(time.DateTime), Ceiling.Year())
	}
	return nil
}
