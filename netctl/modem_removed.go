package netctl

// A modem whose USB device left the system: pulled out of its slot (or a
// USB modem unplugged), or a card that restarts by itself (a firmware
// crash, a brown-out: its ports vanish and come back within seconds).
// The engine says so at once (modem.EventRemoved, modem.ErrRemoved); the
// session ends without any reset and the manager looks for the modem
// again every few seconds. The only sign that tells the two apart is
// whether the card comes back: for restartGrace the status says the
// card went away and is awaited, then "modem removed"; a card back
// within the grace restarted by itself, and the status says so. A card
// whose network interface stays lost its AT port alone (a driver
// hiccup): neither removed nor restarting, and data may still flow.

import (
	"fmt"
	"net"
	"time"

	"edgebox/api/netapi"
)

// removedLookEvery is how often a removed modem is looked for.
const removedLookEvery = 2 * time.Second

// restartGraceDefault is how long a card whose USB device went away is
// awaited before it is called removed: cards re-enumerate 5-15 s after a
// crash (EC25 ~12 s, ME909 ~10 s), and a pulled card is said soon enough.
const restartGraceDefault = 20 * time.Second

// sayUSBGone is the status while a card whose USB device went away is
// awaited (not a hang: no word of the box restarting it).
const sayUSBGone = "the modem's USB device went away: the modem restarts by itself or was removed; waiting for it to come back"

// sayRestartedByItself is the status of a card back within the grace.
const sayRestartedByItself = "the modem restarted by itself (its USB device was gone for %s); setting it up again"

// sayBackAfterRemoval is the status of a card back after the grace.
const sayBackAfterRemoval = "the modem is back (its USB device was gone for %s); setting it up again"

func (m *modemManager) restartGrace() time.Duration {
	return orDefault(m.removedGrace, restartGraceDefault)
}

// noteRemoved shows the removal; the run loop keeps it shown until a
// modem opens.
func (m *modemManager) noteRemoved() {
	m.mu.Lock()
	first := !m.removed
	m.removed = true
	if first {
		m.removedAt = time.Now()
	}
	m.deadSince = time.Time{}
	m.mu.Unlock()
	if first {
		m.log.Warn("modem's USB device is gone (restarting by itself, or removed); looking for it again", "every", removedLookEvery)
	}
	m.sayGone()
}

// sayATPortGone is the status while the AT port is gone but the modem's
// network interface stays: not removed, and data may still flow.
const sayATPortGone = "the modem's AT port went away but its network interface is still there (data may still flow); waiting for the AT port to come back"

// netStays: the modem's network interface is still there.
func (m *modemManager) netStays() bool {
	m.mu.Lock()
	iface := m.iface
	m.mu.Unlock()
	if iface == "" {
		return false
	}
	_, err := net.InterfaceByName(iface)
	return err == nil
}

// sayGone shows a gone modem: its AT port alone while its network
// interface stays; else awaited within the grace, removed after.
func (m *modemManager) sayGone() {
	atOnly := m.netStays()
	m.mu.Lock()
	since := time.Since(m.removedAt)
	m.atPortOnly = atOnly
	m.mu.Unlock()
	if atOnly {
		m.setState(ModemOpening, sayATPortGone)
		return
	}
	if since < m.restartGrace() {
		m.setState(netapi.ModemAbsent, sayUSBGone)
		return
	}
	if m.status().Error != sayRemoved {
		m.log.Warn("modem removed: its USB device has been gone", "for", since.Round(time.Second))
	}
	m.setState(netapi.ModemAbsent, sayRemoved)
}

// noteBack says how a gone modem came back (the run loop opened it).
func (m *modemManager) noteBack() {
	m.mu.Lock()
	was, atOnly := m.removed, m.atPortOnly
	gone := time.Since(m.removedAt).Round(time.Second)
	m.removed, m.atPortOnly = false, false
	m.mu.Unlock()
	if !was {
		return
	}
	if atOnly {
		m.log.Warn("modem AT port back; its network interface stayed", "gone", gone)
		m.setState(ModemOpening, "")
		return
	}
	if gone < m.restartGrace() {
		m.log.Warn("modem restarted by itself: its USB device came back", "gone", gone)
		m.setState(ModemOpening, fmt.Sprintf(sayRestartedByItself, gone))
		return
	}
	m.log.Info("modem back after its removal", "gone", gone)
	m.setState(ModemOpening, fmt.Sprintf(sayBackAfterRemoval, gone))
}
