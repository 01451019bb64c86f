package gateway

import "time"

// SetStrangerTCPLife shortens how long a stranger's SIP/TCP connection
// may stay, for a test; restore puts it back.
func SetStrangerTCPLife(d time.Duration) (restore func()) {
	old := strangerTCPLife
	strangerTCPLife = d
	return func() { strangerTCPLife = old }
}
