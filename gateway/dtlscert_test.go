package gateway

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func fingerprint(t *testing.T, c webrtc.Certificate) string {
	t.Helper()
	fps, err := c.GetFingerprints()
	if err != nil || len(fps) == 0 {
		t.Fatalf("fingerprints: %v %v", fps, err)
	}
	return fps[0].Value
}

// Calls set up within a day share the box's DTLS certificate; after a
// day new calls get a new one, valid from then on.
func TestDTLSCertificateSharedThenRotated(t *testing.T) {
	var d dtlsCert
	t0 := time.Now()
	a, err := d.get(t0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := d.get(t0.Add(certRotate - time.Minute))
	if fingerprint(t, a) != fingerprint(t, b) {
		t.Error("a new certificate within the day")
	}
	c, _ := d.get(t0.Add(certRotate))
	if fingerprint(t, a) == fingerprint(t, c) {
		t.Error("the same certificate after a day")
	}
	if c.Expires().Before(t0.Add(certRotate + 7*24*time.Hour)) {
		t.Errorf("rotated certificate expires %s: too soon for calls set up with it", c.Expires())
	}
	// a clock set back (NTP's first sync on a box without RTC battery)
	// does not keep a certificate forever
	e, _ := d.get(t0.Add(-time.Hour))
	if fingerprint(t, e) == fingerprint(t, c) {
		t.Error("clock set back: the certificate was kept")
	}
}

// Every peer connection of the host carries the shared certificate.
func TestPeersShareTheCertificate(t *testing.T) {
	h := loopbackHost(t)
	pcmu := []codec{{Name: "pcmu", PT: 0, Clock: 8000}}
	var fps []string
	for range 2 {
		pc, err := h.newPeer(pcmu, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		certs := pc.GetConfiguration().Certificates
		if len(certs) != 1 {
			t.Fatalf("%d certificates", len(certs))
		}
		fps = append(fps, fingerprint(t, certs[0]))
	}
	if fps[0] != fps[1] {
		t.Errorf("two calls, two certificates: %v", fps)
	}
}
