package netctl

import (
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// TestSec7LANDHCPAnswersOnlyIntoTheLAN: a reply goes to the client's
// ciaddr when it names one (RFC 2131 4.1), and the LAN's DHCP server took
// any: a LAN host sending DISCOVERs or REQUESTs with an internet host's or
// a VPN host's address as ciaddr had the box send its OFFER or ACK there,
// from the box itself, past the forward rules that keep the LAN out of
// the VPN (and, in router mode, masqueraded to the internet). A ciaddr
// outside the LAN's subnet is answered by broadcast on the LAN now.
// Seventh review.
func TestSec7LANDHCPAnswersOnlyIntoTheLAN(t *testing.T) {
	p := testPool()
	now := time.Unix(1_800_000_000, 0)
	for _, ciaddr := range []net.IP{net.IPv4(203, 0, 113, 9), net.IPv4(10, 8, 0, 5)} {
		m := discover(t, mac(1))
		m.ClientIPAddr = ciaddr
		r, _ := p.answer(m, now)
		if r == nil {
			t.Fatalf("no answer to a DISCOVER with ciaddr %s", ciaddr)
		}
		if to := replyTo(m, r, p.subnet); !to.IP.Equal(net.IPv4bcast) || to.Port != dhcpv4.ClientPort {
			t.Errorf("DISCOVER with ciaddr %s: the reply went to %s, want the LAN's broadcast", ciaddr, to)
		}
	}
	// a client renewing from its LAN address is still answered there
	a := lease(t, p, mac(2), now)
	m := discover(t, mac(2))
	m.ClientIPAddr = net.IP(a.AsSlice())
	m.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeRequest))
	r, _ := p.answer(m, now)
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renewal from %s: %v, want an ACK", a, r)
	}
	if to := replyTo(m, r, p.subnet); !to.IP.Equal(m.ClientIPAddr) {
		t.Errorf("renewal from %s: the ACK went to %s, want the client", a, to)
	}
}
