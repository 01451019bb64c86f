package gateway

import (
	"crypto/x509"
	"testing"
	"time"
)

// The portal's stand-in certificate is made at every start: one made while
// the clock was years ahead (before NTP) was "not yet valid" to every
// portal server with a right clock until the gateway restarted.
func TestPortalSelfSignedValidUnderRightClock(t *testing.T) {
	for _, made := range []time.Time{time.Date(2090, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)} {
		c, err := selfSignedCert(made)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			t.Errorf("made at %s: valid %s..%s, not now", made.Format(time.DateOnly), leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly))
		}
	}
}
