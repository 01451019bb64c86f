package web

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// A box whose clock was years ahead at first boot (garbage in a flat RTC)
// made a certificate valid from that year on: once NTP set the clock right,
// every browser called it "not yet valid" for decades.
func TestSelfSignedValidOnceClockCorrected(t *testing.T) {
	for _, made := range []time.Time{
		time.Date(2090, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Now(),
	} {
		certPEM, _, err := newSelfSigned("box", made)
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(certPEM)
		if block == nil {
			t.Fatal("no PEM block")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			t.Errorf("made under a clock at %s: valid %s..%s, not now", made.Format(time.DateOnly),
				cert.NotBefore.Format(time.DateOnly), cert.NotAfter.Format(time.DateOnly))
		}
		if made.Before(cert.NotBefore) || made.After(cert.NotAfter) {
			t.Errorf("made under a clock at %s: not valid under that clock either", made.Format(time.DateOnly))
		}
	}
}
