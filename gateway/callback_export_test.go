package gateway

import "time"

// SetCallbackRingTimeout shortens how long a callback rings (for the test
// of the 480 after it); the returned func puts it back. Set it before the
// gateway starts ringing anything.
func SetCallbackRingTimeout(d time.Duration) (restore func()) {
	old := callbackRingTimeout
	callbackRingTimeout = d
	return func() { callbackRingTimeout = old }
}
