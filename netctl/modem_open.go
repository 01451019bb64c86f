package netctl

// The absent and opening states: the manager's goroutine finds and opens
// the modem, then runs a session on it until it must be reopened.

import (
	"context"
	"errors"
	"time"

	"edgebox/api/netapi"
	"edgebox/modem"
)

// run is the manager's goroutine.
func (m *modemManager) run(ctx context.Context) {
	defer close(m.done)
	wait := 2 * time.Second
	for ctx.Err() == nil {
		m.mu.Lock()
		cfg, removed := m.cfg, m.removed
		m.mu.Unlock()
		if !removed {
			m.setState(ModemOpening, "")
		}
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		drv, err := m.opener().Open(octx, cfg)
		cancel()
		if err != nil && removed {
			if errors.Is(err, modem.ErrNoModem) {
				// Still out: say so, and look again soon, so that
				// the card is in use as soon as it is back.
				m.log.Debug("removed modem not back yet", "err", err)
				m.sayGone()
				sleepOrReq(ctx, m.req, removedLookEvery) // the loop ends when ctx did
				continue
			}
			// Back, but not usable: say why, as for any modem.
			m.mu.Lock()
			m.removed = false
			m.mu.Unlock()
		}
		if err != nil {
			var faulty *modem.FaultyModemError
			switch {
			case errors.As(err, &faulty):
				m.setState(netapi.ModemFaulty, err.Error())
				wait = time.Minute
			case errors.Is(err, modem.ErrNeedsReset):
				// The modem restarts to apply a setting (EC25 switched
				// to ECM): its USB device goes away and comes back.
				// Not a fault: detect it again shortly.
				m.setState(ModemOpening, "the modem is restarting to apply a setting; detecting it again")
				m.log.Info("modem restarting after a setting change; detecting again", "after", m.redetect())
				sleepOrReq(ctx, m.req, m.redetect()) // the loop ends when ctx did
				wait = 2 * time.Second
				continue
			case errors.Is(err, modem.ErrNoModem):
				m.setState(netapi.ModemAbsent, "no modem found; check that the card is seated")
			default:
				m.setState(netapi.ModemAbsent, err.Error())
			}
			if !sleepOrReq(ctx, m.req, wait) {
				break
			}
			wait = min(wait*2, time.Minute)
			continue
		}
		wait = 2 * time.Second
		m.noteBack()
		dev := drv.Device()
		m.mu.Lock()
		m.drv = drv
		m.st.Device, m.st.Profile = &dev, drv.ProfileName()
		m.mu.Unlock()
		m.session(ctx, drv)
		if ctx.Err() != nil {
			m.powerDown(drv)
		}
		m.mu.Lock()
		m.drv = nil
		m.mu.Unlock()
		drv.Close()
	}
	m.setState(netapi.ModemDisabled, "")
}

// sleepOrReq waits d or until a request arrives; false when ctx ended.
func sleepOrReq(ctx context.Context, req chan string, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
	case r := <-req:
		// Requests that arrive while there is nothing to act on are dropped,
		// except that they cut the wait short.
		_ = r
	}
	return true
}
