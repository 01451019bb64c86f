package gateway

import (
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// pion's stdnet.Net reads the interface table once, when it is made, and
// answers from that copy for ever. The gateway's ICE mux and every call's
// agent take their host candidates from it, so an address that came up
// after the gateway started (the WAN's DHCP lease after a reboot, LTE
// minutes later, a new uplink after failover) was never offered to a
// browser: full-ICE calls failed until the gateway restarted, found by
// the field day's call after a reboot from the UI. liveNet answers from
// a copy at most iceNetFresh old, read again on demand.
type liveNet struct {
	// ListenPacket, Dial and the rest do not use the list: the first
	// copy's, never replaced
	*stdnet.Net

	mu   sync.Mutex
	snap *stdnet.Net // the interface list, replaced whole when read again
	at   time.Time
	read func() (*stdnet.Net, error)
}

// iceNetFresh bounds how old the interface list a call's candidates come
// from may be; a call set-up reads it a few times, so without it each
// would dump the kernel's table (netlink) again.
var iceNetFresh = time.Second

func newLiveNet() (*liveNet, error) {
	n := &liveNet{read: stdnet.NewNet}
	first, err := n.read()
	if err != nil {
		return nil, err
	}
	n.Net, n.snap, n.at = first, first, time.Now()
	return n, nil
}

// current is the interface list, read again when older than iceNetFresh
// (kept as it was if the read fails).
func (n *liveNet) current() *stdnet.Net {
	n.mu.Lock()
	defer n.mu.Unlock()
	if time.Since(n.at) >= iceNetFresh {
		if fresh, err := n.read(); err == nil {
			n.snap = fresh
		}
		n.at = time.Now()
	}
	return n.snap
}

func (n *liveNet) Interfaces() ([]*transport.Interface, error) { return n.current().Interfaces() }

func (n *liveNet) InterfaceByIndex(index int) (*transport.Interface, error) {
	return n.current().InterfaceByIndex(index)
}

func (n *liveNet) InterfaceByName(name string) (*transport.Interface, error) {
	return n.current().InterfaceByName(name)
}
