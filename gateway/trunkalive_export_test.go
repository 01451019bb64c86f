package gateway

import "time"

// SetTrunkKeepalive sets how often the trunk's keepalive asks the PBX (for
// the PBX restart tests); the returned func puts it back. Call it only from
// a test that is not parallel: running gateways read it.
func SetTrunkKeepalive(d time.Duration) (restore func()) {
	old := trunkKeepaliveEvery
	trunkKeepaliveEvery = d
	return func() { trunkKeepaliveEvery = old }
}
