package gateway

import (
	"net/netip"
	"testing"
	"time"

	"edgebox/internal/config"
)

// TestPBXSDPReadsOwnAddressesOnce: set-ups in a burst check the PBX's
// media address against the box's addresses read once, not once each
// (a netlink dump per call), and a read older than ownPrefixesFresh is
// done again, so a new address is refused soon after it appears.
func TestPBXSDPReadsOwnAddressesOnce(t *testing.T) {
	reads := 0
	own := []netip.Prefix{netip.MustParsePrefix("192.168.1.1/32"), netip.MustParsePrefix("192.168.1.0/24")}
	oldRead, oldFresh := readOwnPrefixes, ownPrefixesFresh
	readOwnPrefixes = func() []netip.Prefix { reads++; return own }
	ownPrefixesFresh = 50 * time.Millisecond
	ownPrefixesMu.Lock()
	ownPrefixesAt = time.Time{}
	ownPrefixesMu.Unlock()
	t.Cleanup(func() {
		readOwnPrefixes, ownPrefixesFresh = oldRead, oldFresh
		ownPrefixesMu.Lock()
		ownPrefixesAt = time.Time{}
		ownPrefixesMu.Unlock()
	})
	pbx := config.GatewayPBX{Address: "203.0.113.5:5060"}
	sdp := func(addr string) string {
		return "v=0\r\no=- 1 1 IN IP4 " + addr + "\r\ns=-\r\nc=IN IP4 " + addr + "\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	}
	for range 100 {
		if _, err := parsePBXSDP(sdp("203.0.113.5"), pbx); err != nil {
			t.Fatal(err)
		}
	}
	if reads != 1 {
		t.Fatalf("100 set-ups read the box's addresses %d times, want once", reads)
	}
	// the box gets a new address: refused once the last read is stale
	own = append(own, netip.MustParsePrefix("198.51.100.7/32"))
	time.Sleep(60 * time.Millisecond)
	if _, err := parsePBXSDP(sdp("198.51.100.7"), pbx); err == nil {
		t.Fatal("media to the box's new address accepted after the read went stale")
	}
	if reads != 2 {
		t.Errorf("%d reads, want 2", reads)
	}
}
