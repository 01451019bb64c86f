package netctl

// The registering state: wait for the network, with the radio on.

import (
	"context"
	"errors"
	"time"

	"edgebox/internal/config"
	"edgebox/modem"
)

// radioOnAfter: unregistered this long, netctl checks that the radio is on
// (someone may have switched it off behind the box's back).
const radioOnAfter = 6 * time.Second

// radioStuckReset: after this many radio-on attempts that left the radio
// off, the card is restarted.
const radioStuckReset = 2

// sayRadioStuck is the status while a card stuck in flight mode is
// restarted.
const sayRadioStuck = "the modem's radio stays off (flight mode) whatever the box asks; the box restarts the modem"

// register waits for the network, making sure the radio is on.
func (s *modemSession) register(ctx context.Context, cfg config.Modem, _ string) step {
	m := s.m
	c, cancel := cmdCtx(ctx)
	reg, err := s.drv.Registration(c)
	cancel()
	if err == nil {
		m.mu.Lock()
		m.st.Registration = &reg
		m.mu.Unlock()
	}
	if err != nil || reg.State != modem.RegDenied {
		s.deniedWords = ""
	}
	if err == nil && reg.State == modem.RegRoaming && roamingDenied(cfg) && m.voiceSlot == "" {
		// Registered, but abroad: no data session, no roaming bill.
		s.regSince = time.Time{}
		m.setState(ModemRegistering, sayRoamingDenied)
		m.pollSignal(ctx, s.drv)
		return s.wait(ctx, 10*time.Second)
	}
	if err == nil && reg.State.Registered() {
		s.regSince = time.Time{}
		return stepNext
	}
	if s.regSince.IsZero() {
		s.regSince = time.Now()
	}
	switch {
	case err != nil:
		if !s.notResponding(err) {
			m.setState(ModemRegistering, "the registration could not be read: "+sayModemError(err))
		}
	case reg.State == modem.RegDenied:
		m.setState(ModemRegistering, s.sayDenied(ctx))
	default:
		m.setState(ModemRegistering, sayUnregistered(reg.State))
		// A radio switched off behind the box's back (or a card that
		// refused +CFUN=1 at init) is switched on again.
		if time.Since(s.regSince) >= radioOnAfter && time.Since(s.radioAt) >= radioOnAfter {
			s.radioAt = time.Now()
			c, cancel := cmdCtx(ctx)
			err := s.drv.RadioOn(c)
			cancel()
			if err != nil {
				m.log.Warn("modem radio on", "err", err)
			}
			if errors.Is(err, modem.ErrRadioStuck) {
				// Stuck in flight mode (after a firmware crash):
				// only a restart of the card ends it. The resets
				// escalate (reopen, vendor reset, slot) as for a
				// hang, one per stuck session.
				s.radioStuck++
				if s.radioStuck >= radioStuckReset {
					m.setState(ModemRegistering, sayRadioStuck)
					m.doReset(ctx, s.drv)
					return stepEnd
				}
			} else if err == nil {
				s.radioStuck = 0
			}
		}
		m.pollSignal(ctx, s.drv)
	}
	return s.wait(ctx, 3*time.Second)
}

// sayUnregistered is why the card is not on the network yet, for people.
func sayUnregistered(st modem.RegState) string {
	switch st {
	case modem.RegSearching:
		return "the modem is searching for the network: no coverage here, or the antenna is loose"
	case modem.RegNotRegistered:
		return "the modem is not on the network and not searching; the box turns its radio on again"
	}
	return "the network does not say whether it takes the modem (registration unknown); waiting for it"
}

// roamingDenied: network.modem.roaming is deny. Roaming is allowed by
// default: IoT SIMs work only roaming, and a box that will not dial
// cannot be reached to change the setting.
func roamingDenied(cfg config.Modem) bool { return cfg.Roaming == config.RoamingDeny }

// sayRoamingDenied is the status while the card is registered roaming
// and roaming is denied.
const sayRoamingDenied = "the modem is roaming (registered on a foreign network) and roaming is denied (network.modem.roaming: deny): the box does not dial, to avoid roaming charges; set roaming to allow if this SIM may roam"
