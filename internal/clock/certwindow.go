package clock

import "time"

// CertWindow is the validity of a certificate the box signs for itself.
// It may be made under any clock: a flat RTC in 2001, or garbage years
// ahead that NTP later corrects. Browsers judge it by their own, right,
// clock, so the window starts no later than Floor and lasts 20 years past
// the later of now and Floor: valid under the clock it was made with and
// under the right one (a short life from a clock years behind would
// already have ended).
func CertWindow(now time.Time) (notBefore, notAfter time.Time) {
	notBefore = now.Add(-24 * time.Hour)
	if notBefore.After(Floor) {
		notBefore = Floor
	}
	end := now
	if end.Before(Floor) {
		end = Floor
	}
	return notBefore, end.AddDate(20, 0, 0)
}
