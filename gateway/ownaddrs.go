package gateway

import (
	"net/netip"
	"sync"
	"time"
)

// Every call set-up checks the PBX's media address against the box's own
// addresses (parsePBXSDP). Reading them is a netlink dump (a socket, a
// request, the replies parsed: about 50 µs and 44 allocations on a
// 4-interface machine), which at hundreds of set-ups a second was read
// hundreds of times a second for the same answer. recentOwnPrefixes
// reads it at most once per ownPrefixesFresh: an uplink's new address is
// seen within that, which is far inside the time a DHCP or VPN change
// takes to matter to a PBX's SDP.
var (
	ownPrefixesFresh = 500 * time.Millisecond
	// readOwnPrefixes is interfacePrefixes; tests count its reads.
	readOwnPrefixes = interfacePrefixes

	ownPrefixesMu   sync.Mutex
	ownPrefixesAt   time.Time
	ownPrefixesLast []netip.Prefix
)

// recentOwnPrefixes is interfacePrefixes as read at most ownPrefixesFresh
// ago. The slice is shared: callers must not change it.
func recentOwnPrefixes() []netip.Prefix {
	ownPrefixesMu.Lock()
	defer ownPrefixesMu.Unlock()
	if now := time.Now(); ownPrefixesAt.IsZero() || now.Sub(ownPrefixesAt) >= ownPrefixesFresh {
		ownPrefixesLast, ownPrefixesAt = readOwnPrefixes(), now
	}
	return ownPrefixesLast
}
