package gateway

// Anyone who gets a call token from the company's site gets TURN
// credentials with it, and pion's TURN server makes as many allocations
// for one credential as it is asked for (a relay socket and a goroutine
// each, for up to ten minutes): a script could take every descriptor the
// gateway has. quota bounds the allocations per credential and in all;
// pion answers the excess 486 Allocation Quota Reached.

const (
	// maxAllocsPerUser: a browser allocates one or two per ICE gathering
	// (UDP, TCP); a few ICE restarts within an allocation's lifetime fit.
	maxAllocsPerUser = 8
	// maxAllocs bounds all relays of the box.
	maxAllocs = 2000
)

// quota says whether username may have one more allocation.
func (g *relayGuard) quota(username string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.relays) >= maxAllocs {
		g.log.Warn("TURN allocation refused: the box's relays are all taken", "relays", len(g.relays))
		return false
	}
	n := 0
	for _, c := range g.relays {
		if u := c.user.Load(); u != nil && *u == username {
			n++
		}
	}
	if n >= maxAllocsPerUser {
		g.log.Info("TURN allocation refused: quota of the credentials reached", "user", username, "allocations", n)
		return false
	}
	return true
}
