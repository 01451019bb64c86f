package netctl

// The SIM state: read the SIM and the identity, enter the PIN once.

import (
	"context"
	"errors"
	"time"

	"edgebox/internal/config"
	"edgebox/modem"
)

// sim reads the SIM and enters the PIN.
func (s *modemSession) sim(ctx context.Context, cfg config.Modem, failed string) step {
	m, drv := s.m, s.drv
	c, cancel := cmdCtx(ctx)
	sim, err := drv.SIM(c)
	cancel()
	m.mu.Lock()
	m.st.SIM = &sim
	m.mu.Unlock()
	if err != nil {
		if !s.notResponding(err) {
			m.setState(ModemSIM, "the SIM could not be read: "+sayModemError(err))
		}
		return s.wait(ctx, 5*time.Second)
	}
	if sim.State != modem.SIMReady {
		s.readyRead = false
	}
	switch sim.State {
	case modem.SIMReady:
		// Read again after an unlock (the IMSI needs the PIN), when
		// the read at open failed (a timeout, a late answer), and once
		// the SIM is ready when that read found no IMSI or ICCID (the
		// SIM was busy after boot): otherwise the status would show no
		// IMEI or IMSI for the whole session.
		id := m.status().Identity
		if s.locked || id == nil || (!s.readyRead && (id.IMSI == "" || id.ICCID == "")) {
			s.locked = false
			s.readIdentity(ctx)
		}
		s.readyRead = true
		return stepNext
	case modem.SIMPIN:
		s.locked = true
		return s.enterPIN(ctx, cfg, failed, &sim)
	case modem.SIMPUK:
		m.setState(ModemSIM, sayPUK(&sim))
		return s.wait(ctx, time.Minute)
	case modem.SIMAbsent:
		s.radioOnForSIM(ctx)
		m.setState(ModemSIM, "no SIM card; insert one")
		return s.wait(ctx, 10*time.Second)
	case modem.SIMError:
		s.radioOnForSIM(ctx)
	}
	m.setState(ModemSIM, "SIM "+string(sim.State))
	return s.wait(ctx, 3*time.Second)
}

// radioOnForSIM turns the radio on when the SIM reads as missing or
// failed: cards that power the SIM down with the radio (CFUN 0) say
// NOT READY until it is on again, and the register step, which turns the
// radio on too, is never reached without a SIM. RadioOn reads +CFUN?
// first, so a card whose radio is on is left alone.
func (s *modemSession) radioOnForSIM(ctx context.Context) {
	if time.Since(s.radioAt) < radioOnAfter {
		return
	}
	s.radioAt = time.Now()
	c, cancel := cmdCtx(ctx)
	defer cancel()
	if err := s.drv.RadioOn(c); err != nil {
		s.m.log.Warn("modem radio on", "err", err)
	}
}

// readIdentity reads the modem's and SIM's identity into the status.
func (s *modemSession) readIdentity(ctx context.Context) {
	c, cancel := cmdCtx(ctx)
	id, err := s.drv.Identity(c)
	cancel()
	if err == nil {
		s.m.mu.Lock()
		s.m.st.Identity = &id
		s.m.mu.Unlock()
	}
}

// enterPIN sends the configured PIN once; a rejected PIN is never sent again.
func (s *modemSession) enterPIN(ctx context.Context, cfg config.Modem, failed string, sim *modem.SIMStatus) step {
	m := s.m
	switch {
	case cfg.PIN == "":
		m.setState(ModemSIM, "the SIM needs a PIN: set "+m.configField("pin"))
	case cfg.PIN == failed && m.pinFailedOn(sim.ICCID):
		m.setState(ModemSIM, "the configured PIN was rejected by the SIM; enter the right PIN"+attemptsLeft(sim))
	default:
		c, cancel := cmdCtx(ctx)
		err := s.drv.EnterPIN(c, cfg.PIN)
		cancel()
		s.refreshSIM(ctx)
		if err == nil {
			m.log.Info("SIM PIN accepted")
			return stepAgain
		}
		if errors.Is(err, modem.ErrWrongPIN) || errors.Is(err, modem.ErrPINAlreadyRejected) {
			m.mu.Lock()
			m.pinFailed, m.pinFailedICCID = cfg.PIN, sim.ICCID
			m.mu.Unlock()
			m.setState(ModemSIM, "the SIM rejected the PIN; enter the right PIN"+attemptsLeft(m.status().SIM))
		} else if errors.Is(err, modem.ErrLastPINAttempt) {
			m.setState(ModemSIM, modem.ErrLastPINAttempt.Error())
		} else if !s.notResponding(err) {
			m.setState(ModemSIM, "the PIN could not be entered: "+sayModemError(err))
		}
	}
	return s.wait(ctx, 30*time.Second)
}

// refreshSIM re-reads the SIM after a PIN attempt so the attempts left
// shown are the card's, not the count from before.
func (s *modemSession) refreshSIM(ctx context.Context) {
	c, cancel := cmdCtx(ctx)
	defer cancel()
	if sim, err := s.drv.SIM(c); err == nil {
		s.m.mu.Lock()
		s.m.st.SIM = &sim
		s.m.mu.Unlock()
	}
}

// pinFailedOn says whether the failed PIN was refused by the SIM with
// iccid (or either is not known): a SIM swapped in for the one that
// refused it gets the configured PIN, which may be its own.
func (m *modemManager) pinFailedOn(iccid string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pinFailedICCID == "" || iccid == "" || iccid == m.pinFailedICCID
}
