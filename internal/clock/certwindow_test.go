package clock

import (
	"testing"
	"time"
)

func TestCertWindowValidUnderMakerAndRightClock(t *testing.T) {
	right := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, made := range []time.Time{
		time.Date(2001, 1, 1, 0, 0, 5, 0, time.UTC), // flat RTC
		right, // a right clock
		time.Date(2090, 6, 1, 0, 0, 0, 0, time.UTC),   // garbage ahead
		time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), // just plausible
	} {
		nb, na := CertWindow(made)
		for _, at := range []time.Time{made, right, right.AddDate(10, 0, 0)} {
			if at.Before(nb) || at.After(na) {
				t.Errorf("made at %s: window %s..%s does not hold %s", made.Format(time.DateOnly), nb.Format(time.DateOnly), na.Format(time.DateOnly), at.Format(time.DateOnly))
			}
		}
	}
}
