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
		s.retryDenied(ctx)
	default:
		m.setState(ModemRegistering, sayUnregistered(reg.State))
		// A radio switched off behind the box's back (or a card that
		// refused +CFUN=1 at init) is switched on again.
		if time.Since(s.regSince) >= radioOnAfter && time.Since(s.radioAt) >= radioOnAfter {
			s.radioAt = time.Now()
			c, cancel := cmdCtx(ctx)
			var err error
			if rv, ok := s.drv.(radioVerifier); ok {
				err = rv.RadioOnVerified(c)
			} else {
				err = s.drv.RadioOn(c)
			}
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

// deniedRetryDefault: denied this long, the card is made to register
// afresh. After EMM causes 3, 6 and 8 a card takes its SIM as invalid and
// never asks again on its own, and after others it backs off for up to
// 12 minutes (T3402): the radio off and on makes it ask now, so a denial
// the operator has lifted (a subscription put right) ends without a
// reboot. Not more often: each attempt is a registration the network
// refuses.
const deniedRetryDefault = 5 * time.Minute

// retryDenied turns the radio off and on once the card has been denied
// for the retry interval, and again after each interval.
func (s *modemSession) retryDenied(ctx context.Context) {
	m := s.m
	every := orDefault(m.deniedRetry, deniedRetryDefault)
	if time.Since(s.regSince) < every || time.Since(s.deniedCycleAt) < every {
		return
	}
	s.deniedCycleAt = time.Now()
	m.log.Warn("registration denied; turning the radio off and on to register afresh", "denied_for", time.Since(s.regSince).Round(time.Second))
	c, cancel := cmdCtx(ctx)
	defer cancel()
	var err error
	if rc, ok := s.drv.(radioCycler); ok {
		err = rc.RadioCycle(c)
	} else if err = s.drv.RadioOff(c); err == nil {
		err = s.drv.RadioOn(c)
	}
	if err != nil {
		m.log.Warn("modem radio off and on", "err", err)
	}
	s.deniedWords = "" // ask the cause again: it may have changed
}

// radioVerifier is the driver's radio on that tells a radio stuck off
// (modem.ErrRadioStuck).
type radioVerifier interface {
	RadioOnVerified(ctx context.Context) error
}

// radioCycler is the driver's radio off (flight mode) and on again.
type radioCycler interface {
	RadioCycle(ctx context.Context) error
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
