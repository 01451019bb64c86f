package netctl

// A modem pulled out of its slot (its tty and network device leave the
// system): the engine says so at once (modem.EventRemoved, modem.ErrRemoved);
// the session ends without any reset, the status says "modem removed", and
// the manager looks for the modem again every few seconds until it is back.

import (
	"time"

	"edgebox/api/netapi"
)

// removedLookEvery is how often a removed modem is looked for.
const removedLookEvery = 2 * time.Second

// noteRemoved shows the removal; the run loop keeps it shown until a
// modem opens.
func (m *modemManager) noteRemoved() {
	m.mu.Lock()
	first := !m.removed
	m.removed = true
	m.deadSince = time.Time{}
	m.mu.Unlock()
	if first {
		m.log.Warn("modem removed: its USB device is gone; looking for it again", "every", removedLookEvery)
	}
	m.setState(netapi.ModemAbsent, sayRemoved)
}
