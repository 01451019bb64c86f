package gateway

import (
	"net/netip"
	"testing"

	"edgebox/internal/config"
)

// The PBX media policy case by case: what TestSecPBXMediaNotIntoTheBox
// shows end to end for loopback, for the other addresses a relay must not
// reach (multicast and broadcast would go out on the LAN).
func TestSecPBXMediaPolicy(t *testing.T) {
	own := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("192.168.1.1/32"), netip.MustParsePrefix("192.168.1.0/24"),
		netip.MustParsePrefix("10.8.0.6/32"), netip.MustParsePrefix("10.8.0.0/24"),
	}
	far := config.GatewayPBX{Address: "203.0.113.5:5060"}
	local := config.GatewayPBX{Address: "127.0.0.1:5070"}
	lanPBX := config.GatewayPBX{Address: "192.168.1.20:5060"}
	for _, c := range []struct {
		addr string
		pbx  config.GatewayPBX
		ok   bool
	}{
		{"203.0.113.5", far, true},
		{"198.51.100.9", far, true},    // media server elsewhere
		{"192.168.1.33", lanPBX, true}, // a desk phone with direct media
		{"10.8.0.9", far, true},        // a media server on the VPN
		{"0.0.0.0", far, true},         // hold: nothing is sent
		{"127.0.0.1", local, true},     // PBX on loopback (tests)
		{"127.0.0.1", far, false},
		{"127.0.0.53", far, false},
		{"::1", far, false},
		{"192.168.1.1", far, false}, // the box's LAN address
		{"10.8.0.6", lanPBX, false}, // the box's VPN address
		{"169.254.1.1", far, false},
		{"fe80::1", far, false},
		{"224.0.0.251", far, false},
		{"ff02::1", far, false},
		{"255.255.255.255", far, false},
		{"192.168.1.255", lanPBX, false}, // the LAN's broadcast
	} {
		why := pbxMediaRefused(netip.MustParseAddr(c.addr), c.pbx, own)
		if (why == "") != c.ok {
			t.Errorf("media to %s with the PBX at %s: refused %q, want allowed %v", c.addr, c.pbx.Address, why, c.ok)
		}
	}
}
