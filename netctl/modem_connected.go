package netctl

// The connected state: watch the link, the modem's events and the signal
// until the connection ends, and say why.

import (
	"context"
	"errors"
	"slices"
	"time"

	"edgebox/api/netapi"
	"edgebox/modem"
)

// connected watches the link until it ends, then acts on why.
func (s *modemSession) connected(ctx context.Context) step {
	m, drv := s.m, s.drv
	var pppExited <-chan struct{}
	if s.pppd != nil {
		pppExited = s.pppd.done
	}
	up := s.upSince
	r := m.watch(ctx, drv, s.events, pppExited, s.upSince)
	for r == "reconfig" && m.configIs(s.dialCfg) {
		// A change this link was dialled with (its request queued while
		// the session dialled with the new settings): hanging up would
		// only dial the same again, and a PPP card over a line without
		// DTR stays in data mode.
		m.log.Info("modem settings as dialled; the link stays")
		r = m.watch(ctx, drv, s.events, pppExited, s.upSince)
	}
	// why the link ends, for a link that ends unexpectedly soon (a
	// request queued while it dialled ends it at once)
	m.log.Info("modem link ends", "why", r, "up", time.Since(up).Round(time.Millisecond))
	if s.ppp {
		m.pppDown()
		if !s.endPPP() {
			return stepEnd
		}
	}
	switch r {
	case "disconnect":
		c, cancel := cmdCtx(ctx)
		drv.Disconnect(c)
		cancel()
	case "noaddress":
		// Connected without an address for noAddrRedial: a new data
		// session gets a new bearer, and often a DHCP server that
		// answers.
		c, cancel := cmdCtx(ctx)
		drv.Disconnect(c)
		cancel()
		return s.wait(ctx, s.redialWait)
	case "unregistered", "roaming":
		// The card says its data link is up, but the network has let
		// go of it: end the link so the next dial follows a new
		// registration.
		c, cancel := cmdCtx(ctx)
		drv.Disconnect(c)
		cancel()
	case "reconfig":
		c, cancel := cmdCtx(ctx)
		drv.Disconnect(c)
		cancel()
		if m.ifaceChanged() {
			return stepEnd
		}
	case "reset":
		m.doReset(ctx, drv)
		return stepEnd
	case "closed", "removed":
		return stepEnd
	case "dropped":
		if s.ppp && time.Since(up) < time.Minute {
			// A call that fails soon after it came up (the network
			// hangs up at once) is not redialled in a tight loop.
			return s.wait(ctx, s.redialWait)
		}
	}
	return stepAgain
}

// signalHistoryLen bounds the signal history kept for the API.
const signalHistoryLen = 240

// regLostGrace is how long the network may show the card unregistered
// while its link stays up (a cell change, a short loss of coverage)
// before the link is taken for dead: on LTE no data flows without a
// registration, whatever the card's link status says.
const regLostGrace = 20 * time.Second

// noAddrSay and noAddrRedial: the link is up but the modem uplink has no
// address (nothing answers DHCP on it) this long: the status says so; then
// the session is ended and dialled again.
const (
	noAddrSay    = 20 * time.Second
	noAddrRedial = 60 * time.Second
)

// sayNoAddress is what the status shows meanwhile.
const sayNoAddress = "the modem is connected but the network gives it no address (nothing answers DHCP on its link); the box dials again"

// watch returns why the connection ended: "disconnect", "reconfig",
// "reset", "removed" (the card was pulled out), "dropped" (the modem reported the link down, or pppExited
// closed: pppd ended the call), "unregistered" (the network dropped the
// card for regLostGrace while the link stayed up), "roaming" (the card
// roams and roaming is denied) or "closed" (events channel closed).
// While pppd holds a shared AT port the engine is suspended: the status
// polls fail with modem.ErrSuspended, which is expected and ignored, as is
// modem.ErrPPPOnly from Link (PPP-only modems: pppd's exit tells).
//
// Events from before upSince (queued while the session dialled: the link
// URCs of the drop it redials for, a reset's re-init) are recorded but
// never end a link that came up after them.
func (m *modemManager) watch(ctx context.Context, drv ModemDriver, events <-chan modem.Event, pppExited <-chan struct{}, upSince time.Time) string {
	sig := time.NewTicker(orDefault(m.signalEvery, 30*time.Second))
	defer sig.Stop()
	check := time.NewTicker(orDefault(m.checkEvery, 10*time.Second))
	defer check.Stop()
	m.pollSignal(ctx, drv)
	var regLost time.Time // a registration URC said unregistered; zero: registered
	for {
		select {
		case <-ctx.Done():
			return "closed"
		case r := <-m.req:
			switch r {
			case "disconnect":
				m.mu.Lock()
				m.adminDown = true
				m.mu.Unlock()
				return r
			case "connect":
				continue
			}
			return r
		case <-pppExited:
			m.log.Warn("pppd exited: the call dropped; redialling")
			return "dropped"
		case ev, ok := <-events:
			if !ok {
				return "closed"
			}
			if ev.Kind == modem.EventRemoved {
				m.noteRemoved()
				return "removed"
			}
			if m.watchEvent(ctx, drv, ev, upSince) {
				return "dropped"
			}
			if ev.Kind == modem.EventRegistration && ev.Registration != nil {
				if ev.Registration.State == modem.RegRoaming && m.roamingDenied() {
					m.log.Warn("modem now roaming and roaming is denied: hanging up")
					return "roaming"
				}
				if ev.Registration.State.Registered() {
					regLost = time.Time{}
				} else if regLost.IsZero() {
					regLost = time.Now()
				}
			}
		case <-sig.C:
			m.pollSignal(ctx, drv)
		case <-check.C:
			if !m.checkLink(ctx, drv) {
				return "dropped"
			}
			if pppExited == nil && !m.uplinkAddressed() {
				switch since := time.Since(upSince); {
				case since >= noAddrRedial:
					m.log.Warn("modem connected but no address on its link; dialling again", "for", since.Round(time.Second))
					return "noaddress"
				case since >= noAddrSay:
					m.setState(ModemConnected, sayNoAddress)
				}
			}
			// Read the registration at every check, not only after a
			// URC said it was lost: many cards send no registration URC
			// while connected (or lose it when the port re-enumerates),
			// and roaming deny must still hang up when they roam.
			// Not while the card is silent (the link check timed
			// out): every unanswered command counts towards the
			// engine's recovery of a card whose data still flows.
			if m.status().State != ModemNotResponding {
				if r := m.registrationCheck(ctx, drv, &regLost); r != "" {
					return r
				}
			}
		}
	}
}

// roamingDenied: the settings deny roaming (a data modem only).
func (m *modemManager) roamingDenied() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.voiceSlot == "" && roamingDenied(m.cfg)
}

// watchEvent records ev for watch; true when it ends the link (a drop
// reported after the link came up at upSince).
func (m *modemManager) watchEvent(ctx context.Context, drv ModemDriver, ev modem.Event, upSince time.Time) bool {
	if dropped := m.event(ev); dropped {
		if ev.Time.Before(upSince) {
			m.log.Debug("modem event from before the link came up", "kind", ev.Kind)
			return false
		}
		m.log.Warn("modem connection dropped; redialling")
		return true
	}
	if ev.Kind == modem.EventRegistration && ev.Registration != nil && ev.Registration.State.Registered() && ev.Registration.Operator == "" {
		// Registration URCs carry no operator: read it again
		// after a network flap.
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		if reg, err := drv.Registration(c); err == nil {
			m.mu.Lock()
			m.st.Registration = &reg
			m.mu.Unlock()
		}
		cancel()
	}
	return false
}

// uplinkAddressed: the modem uplink has its address (a DHCP lease, or the
// one the modem gave); true where netctl does not configure one (a voice
// modem, no modem uplink).
func (m *modemManager) uplinkAddressed() bool {
	s := m.s
	if s == nil || m.voiceSlot != "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uplinkLocked("modem")
	return u == nil || u.addr != nil
}

// registrationCheck reads the registration while connected, for watch.
// A URC names one domain only (an LTE-only card may say +CREG: 0 and be
// registered for data), so this read decides. It returns "roaming" when
// the card roams and roaming is denied, "unregistered" when it has been
// unregistered since *lost for longer than regLostGrace, else "" (not
// read, registered, or within the grace); *lost is kept up to date.
func (m *modemManager) registrationCheck(ctx context.Context, drv ModemDriver, lost *time.Time) string {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	reg, err := drv.Registration(c)
	cancel()
	if err != nil {
		return ""
	}
	m.mu.Lock()
	if old := m.st.Registration; reg.Operator == "" && old != nil && reg.State == old.State {
		reg.Operator = old.Operator // a read that did not name it
	}
	m.st.Registration = &reg
	m.mu.Unlock()
	switch {
	case reg.State == modem.RegRoaming && m.roamingDenied():
		m.log.Warn("modem roaming (read while connected) and roaming is denied: hanging up")
		return "roaming"
	case reg.State.Registered():
		*lost = time.Time{}
		return ""
	case lost.IsZero():
		*lost = time.Now()
		return ""
	case time.Since(*lost) < regLostGrace:
		return ""
	}
	m.log.Warn("the network dropped the modem's registration while its link stayed up; reconnecting", "registration", reg.State)
	return "unregistered"
}

// checkLink asks the modem for its data link, for watch; false when the
// modem reports the connection down.
func (m *modemManager) checkLink(ctx context.Context, drv ModemDriver) bool {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	ls, err := drv.Link(c)
	cancel()
	if err != nil {
		if !errors.Is(err, modem.ErrSuspended) && !errors.Is(err, modem.ErrPPPOnly) {
			m.log.Debug("modem link check", "err", err)
			if modemSilent(err) {
				// A hung modem is not shown as connected; its
				// engine reopens and resets it, and the reset
				// event ends this watch.
				m.setState(ModemNotResponding, sayModemError(err))
			}
		}
		return true
	}
	if m.status().State == ModemNotResponding {
		m.setState(ModemConnected, "")
	}
	m.mu.Lock()
	m.st.Link = &ls
	m.mu.Unlock()
	if !ls.Connected && !ls.Connecting {
		m.log.Warn("modem reports the connection down; redialling")
		return false
	}
	return true
}

// event records an unsolicited change; true when the data link dropped.
func (m *modemManager) event(ev modem.Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev.Kind {
	case modem.EventRegistration:
		m.st.Registration = ev.Registration
	case modem.EventSIM:
		m.st.SIM = mergeSIM(m.st.SIM, ev.SIM)
		if ev.SIM != nil {
			switch ev.SIM.State {
			case modem.SIMAbsent, modem.SIMPIN, modem.SIMPUK, modem.SIMError:
				// The SIM went away or locked: no data can flow.
				return true
			}
		}
	case modem.EventSignal:
		if ev.Signal != nil {
			m.addSignalLocked(*ev.Signal, ev.Time)
		}
	case modem.EventLink:
		m.st.Link = ev.Link
		return ev.Link != nil && !ev.Link.Connected && !ev.Link.Connecting
	case modem.EventReset:
		if ev.Recovery == "reset" || ev.Recovery == "slot-reset" {
			m.st.Resets++ // the engine's recovery of a hung modem
		}
		return true
	case modem.EventFaulty:
		m.st.State, m.st.Error, m.st.ErrorTime = ModemNotResponding, sayModemError(modem.ErrFaulty), ev.Time
	}
	return false
}

func (m *modemManager) addSignalLocked(sg modem.Signal, t time.Time) {
	if t.IsZero() {
		t = time.Now()
	}
	m.st.Signal = &sg
	m.st.SignalHistory = append(m.st.SignalHistory, netapi.SignalSample{Time: t, Signal: sg})
	if n := len(m.st.SignalHistory); n > signalHistoryLen {
		m.st.SignalHistory = slices.Delete(m.st.SignalHistory, 0, n-signalHistoryLen)
	}
}

func (m *modemManager) pollSignal(ctx context.Context, drv ModemDriver) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sg, err := drv.Signal(c)
	if err != nil {
		return
	}
	m.mu.Lock()
	m.addSignalLocked(sg, time.Now())
	m.mu.Unlock()
}

// mergeSIM is the SIM status after a URC (+CPIN: READY, ^SIMST): the URC
// gives the state alone, so the ICCID and attempts last read stay shown
// until the next read replaces them; before, every such URC blanked them
// (a connected box showed no ICCID after the card's +CPIN: READY). A SIM
// taken out keeps nothing.
func mergeSIM(old, ev *modem.SIMStatus) *modem.SIMStatus {
	if ev == nil || old == nil || ev.State == modem.SIMAbsent {
		return ev
	}
	st := *ev
	if st.ICCID == "" {
		st.ICCID = old.ICCID
	}
	if st.PINAttempts < 0 {
		st.PINAttempts = old.PINAttempts
	}
	if st.PUKAttempts < 0 {
		st.PUKAttempts = old.PUKAttempts
	}
	return &st
}
