package gateway

import (
	"net"
	"net/netip"
	"time"
)

// SetPBXResolver makes the gateway resolve PBX names through r, and
// wait at most try at one address of several; the returned func puts
// both back. Call it only from a test that is not parallel.
func SetPBXResolver(r *net.Resolver, try time.Duration) (restore func()) {
	oldR, oldT := pbxResolver, pbxTryWait
	pbxResolver, pbxTryWait = r, try
	return func() { pbxResolver, pbxTryWait = oldR, oldT }
}

// PBXSourceAllowed says whether the SIP filter takes new requests from ip.
func PBXSourceAllowed(s *Service, ip netip.Addr) bool {
	s.mu.Lock()
	st := s.sip
	s.mu.Unlock()
	return st != nil && st.filter.fromPBX(ip)
}
