package gateway

import "time"

// SetPortalTimeouts shortens the portal's read and idle timeouts for a
// test; restore puts them back.
func SetPortalTimeouts(read, idle time.Duration) (restore func()) {
	r, i := portalReadTimeout, portalIdleTimeout
	portalReadTimeout, portalIdleTimeout = read, idle
	return func() { portalReadTimeout, portalIdleTimeout = r, i }
}
