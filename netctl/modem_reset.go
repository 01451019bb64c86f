package netctl

// The not-responding and faulty paths: a dead link asks for a reset, and
// resets escalate from re-init to the slot's reset line.

import (
	"context"
	"time"
)

// checkDead asks for a reset when the modem uplink stayed dead too long
// (s.mu held).
func (m *modemManager) checkDead(now time.Time) {
	u := m.s.uplinkLocked("modem")
	m.mu.Lock()
	defer m.mu.Unlock()
	resetAfter := time.Duration(m.cfg.ResetAfterSec) * time.Second
	if u == nil || resetAfter == 0 || m.adminDown || m.drv == nil || m.st.State == ModemSIM {
		m.deadSince = time.Time{}
		return
	}
	if u.healthy {
		m.deadSince = time.Time{}
		m.resetLevel = 0
		return
	}
	if m.deadSince.IsZero() {
		m.deadSince = now
		return
	}
	if now.Sub(m.deadSince) >= resetAfter {
		m.deadSince = now
		m.log.Warn("modem link dead, resetting the modem", "dead_for", resetAfter)
		select {
		case m.req <- "reset":
		default:
		}
	}
}

// doReset escalates, one step per request: re-initialise (the session
// ends and the modem is opened again: port, settings, radio), then the
// vendor reset, then the slot's reset line. A healthy link starts the
// ladder over (checkDead). Every step is counted in the API's resets.
func (m *modemManager) doReset(ctx context.Context, drv ModemDriver) {
	m.mu.Lock()
	level := m.resetLevel
	m.resetLevel++
	m.st.Resets++
	m.mu.Unlock()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	drv.Disconnect(c)
	switch level {
	case 0:
		m.log.Warn("modem reset: opening the modem again")
		return // the session ends; run opens the modem again
	case 1:
		m.log.Warn("modem reset: vendor reset")
		if err := drv.Reset(c); err != nil {
			m.log.Warn("modem reset", "err", err)
		}
	default:
		m.log.Warn("modem reset: power-cycling the slot")
		if err := drv.SlotReset(c); err != nil {
			m.log.Warn("modem slot reset; vendor reset instead", "err", err)
			if err := drv.Reset(c); err != nil {
				m.log.Warn("modem reset", "err", err)
			}
		}
	}
	sleepOrReq(ctx, make(chan string), 3*time.Second)
}
