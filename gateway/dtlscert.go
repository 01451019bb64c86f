package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certRotate is how long one DTLS certificate serves new calls. pion's
// certificates are valid for a month; a day keeps any one key short-lived
// while calls in progress keep theirs.
const certRotate = 24 * time.Hour

// dtlsCert is the box's DTLS certificate for browser legs, shared by the
// calls set up within certRotate of each other. Without it pion makes an
// ECDSA key and a self-signed certificate per peer connection: about 4%
// of the gateway's CPU at 400 set-ups per second, and a key per call held
// for the call's life. Browsers check the certificate against the
// fingerprint in the answer, which the signaling (TLS) carries, so a
// shared one weakens nothing a fresh one protects.
type dtlsCert struct {
	mu   sync.Mutex
	cert *webrtc.Certificate
	made time.Time
}

// get returns the certificate for a call set up at now, making a new one
// when there is none or the current one served certRotate.
func (d *dtlsCert) get(now time.Time) (webrtc.Certificate, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cert == nil || now.Sub(d.made) >= certRotate || now.Before(d.made) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, err
		}
		c, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, err
		}
		d.cert, d.made = c, now
	}
	return *d.cert, nil
}
