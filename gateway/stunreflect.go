package gateway

import (
	"net"
	"net/netip"

	"github.com/pion/stun/v3"
)

// unprovenAnswersPerMinute bounds the STUN answers the box sends to one
// source (an IPv6 /64 counts as one) that has not proven its address:
// Binding answers of the STUN server and the TURN server, and TURN's
// error answers (the 401 that asks an Allocate for credentials). Each is
// 2-4 times the size of its request and goes to whatever source the
// datagram claims, so without a bound the box reflected floods of
// spoofed requests, larger, at anyone (fifth review). A browser asks a
// few times a call; a carrier NAT's address shared by many callers stays
// well inside 10 a second with a burst of 100.
const unprovenAnswersPerMinute = 600

// newReflectionLimiter is the per-source bound of unproven STUN answers.
func newReflectionLimiter() *rateLimiter { return newRateLimiter(unprovenAnswersPerMinute) }

// mayAnswer takes a token for to and says whether it may have one more
// unproven answer.
func (r *rateLimiter) mayAnswer(to net.Addr) bool {
	ua, ok := to.(*net.UDPAddr)
	if !ok {
		return true
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	return !ok || r.allow(ip.Unmap())
}

// reflectionGuardConn is the TURN server's socket with the bound applied
// to what it sends: Binding success and every error answer count against
// the destination; allocation, permission and refresh successes (which
// need credentials, so a handshake with the real source) and relayed
// media (ChannelData, Data indications) pass untouched.
type reflectionGuardConn struct {
	net.PacketConn
	limit *rateLimiter
}

func (c *reflectionGuardConn) WriteTo(b []byte, to net.Addr) (int, error) {
	if unprovenAnswer(b) && !c.limit.mayAnswer(to) {
		return len(b), nil // dropped as a lost datagram would be
	}
	return c.PacketConn.WriteTo(b, to)
}

// unprovenAnswer says whether b is a STUN Binding success or an error
// answer of any method (the header alone: type and magic cookie).
func unprovenAnswer(b []byte) bool {
	if !stun.IsMessage(b) {
		return false
	}
	var t stun.MessageType
	t.ReadValue(uint16(b[0])<<8 | uint16(b[1]))
	return t == stun.BindingSuccess || t.Class == stun.ClassErrorResponse
}
