package netctl

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/paths"
	"edgebox/modem"
)

// modemSession is one opened modem, driven through its states (SIM,
// registration, connect, connected) until it must be reopened or the
// service stops. Each state is a method that says what comes next.
type modemSession struct {
	m          *modemManager
	drv        ModemDriver
	events     <-chan modem.Event
	ppp        bool
	method     string
	redialWait time.Duration

	pppd      *pppdProc
	suspended bool      // the AT port is lent to pppd
	regSince  time.Time // unregistered since
	radioAt   time.Time // last radio check while unregistered
	upSince   time.Time // when the data connection last came up
	// locked: the identity was read while the SIM wanted its PIN, so it
	// lacks what only an unlocked SIM gives (IMSI, own number).
	locked bool
}

// step is what a state decided.
type step int

const (
	stepNext  step = iota // go on to the next state
	stepAgain             // start over from the SIM state
	stepEnd               // the session ends: reopen the modem, or stop
)

// session runs one opened modem until it must be reopened or ctx ends.
func (m *modemManager) session(ctx context.Context, drv ModemDriver) {
	s := &modemSession{m: m, drv: drv, events: drv.Events(), redialWait: orDefault(m.redialWait, 10*time.Second)}
	if !s.setup(ctx) {
		return
	}
	defer s.endPPP()
	for ctx.Err() == nil {
		if s.round(ctx) == stepEnd {
			return
		}
	}
}

// round runs the states once, from the SIM to a connection that ended.
func (s *modemSession) round(ctx context.Context) step {
	m := s.m
	m.mu.Lock()
	cfg, down, failed := m.cfg, m.adminDown, m.pinFailed
	m.mu.Unlock()
	if down {
		m.setState(ModemDisconnected, "")
		return s.wait(ctx, 0)
	}
	for _, state := range []func(context.Context, config.Modem, string) step{s.sim, s.register, s.connect} {
		if st := state(ctx, cfg, failed); st != stepNext {
			return st
		}
	}
	return s.connected(ctx)
}

// cmdCtx bounds one driver call.
func cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 30*time.Second)
}

// setup reads the identity and points the modem uplink at the data
// interface; false when the modem cannot be used as configured.
func (s *modemSession) setup(ctx context.Context) bool {
	m, drv := s.m, s.drv
	s.readIdentity(ctx)
	m.mu.Lock()
	iface := m.cfg.Interface
	if iface == "" {
		iface = drv.Device().NetIface
	}
	if iface == "" {
		// Boards where the AT port and the data port are separate USB
		// devices (QEMU's usb-serial + usb-net) name it in the role map.
		iface = m.s.opts.Roles["modem"]
	}
	s.method = m.cfg.Method
	m.iface = iface
	m.mu.Unlock()
	s.ppp = s.method == config.MethodPPP || drv.PPPOnly()
	if !s.ppp {
		if iface == "" {
			m.setState(ModemFaulty, "the modem has no network interface; set network.modem.interface or method ppp")
			s.wait(ctx, time.Minute)
			return false
		}
		m.setIface(iface)
	}
	return true
}

// wait pauses the current state for d (0: until something happens). It
// returns early, with stepAgain, for a change of SIM or registration or a
// modem reset; requests are honoured from every state (a reset request
// escalates and ends the session).
func (s *modemSession) wait(ctx context.Context, d time.Duration) step {
	var timer <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return stepEnd
		case <-timer:
			return stepAgain
		case r := <-s.m.req:
			return s.request(ctx, r)
		case ev, ok := <-s.events:
			if !ok {
				return stepEnd
			}
			s.m.event(ev)
			switch ev.Kind {
			case modem.EventSIM, modem.EventRegistration, modem.EventReset:
				return stepAgain
			}
		}
	}
}

// request acts on an API or health request outside the connected state.
func (s *modemSession) request(ctx context.Context, r string) step {
	switch r {
	case "reset":
		s.m.doReset(ctx, s.drv)
		return stepEnd
	case "reconfig":
		if s.m.ifaceChanged() {
			return stepEnd
		}
	}
	return stepAgain // connect, disconnect (adminDown is set), reconfig
}

// notResponding tells whether err means the modem does not answer (it
// hangs or is being recovered), and shows that state.
func (s *modemSession) notResponding(err error) bool {
	if !modemSilent(err) {
		return false
	}
	s.m.setState(ModemNotResponding, sayModemError(err))
	return true
}

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
	switch sim.State {
	case modem.SIMReady:
		if s.locked {
			s.locked = false
			s.readIdentity(ctx)
		}
		return stepNext
	case modem.SIMPIN:
		s.locked = true
		return s.enterPIN(ctx, cfg, failed, &sim)
	case modem.SIMPUK:
		m.setState(ModemSIM, "the SIM is locked (PUK required); unlock it in a phone")
		return s.wait(ctx, time.Minute)
	case modem.SIMAbsent:
		m.setState(ModemSIM, "no SIM card; insert one")
		return s.wait(ctx, 10*time.Second)
	}
	m.setState(ModemSIM, "SIM "+string(sim.State))
	return s.wait(ctx, 3*time.Second)
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
		m.setState(ModemSIM, "the SIM needs a PIN: set network.modem.pin")
	case cfg.PIN == failed:
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
			m.pinFailed = cfg.PIN
			m.mu.Unlock()
			m.setState(ModemSIM, "the SIM rejected the PIN; enter the right PIN"+attemptsLeft(m.status().SIM))
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

// register waits for the network, making sure the radio is on.
func (s *modemSession) register(ctx context.Context, _ config.Modem, _ string) step {
	m := s.m
	c, cancel := cmdCtx(ctx)
	reg, err := s.drv.Registration(c)
	cancel()
	if err == nil {
		m.mu.Lock()
		m.st.Registration = &reg
		m.mu.Unlock()
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
		m.setState(ModemRegistering, "registration denied by the network; check the SIM's contract")
	default:
		m.setState(ModemRegistering, "")
		// A radio switched off behind the box's back (or a card that
		// refused +CFUN=1 at init) is switched on again.
		if time.Since(s.regSince) >= radioOnAfter && time.Since(s.radioAt) >= radioOnAfter {
			s.radioAt = time.Now()
			c, cancel := cmdCtx(ctx)
			if err := s.drv.RadioOn(c); err != nil {
				m.log.Warn("modem radio on", "err", err)
			}
			cancel()
		}
		m.pollSignal(ctx, s.drv)
	}
	return s.wait(ctx, 3*time.Second)
}

// connect dials the data connection and configures the uplink.
func (s *modemSession) connect(ctx context.Context, cfg config.Modem, _ string) step {
	m, drv := s.m, s.drv
	if cfg.APN == "" {
		m.setState(ModemConnecting, "no APN configured: set network.modem.apn")
		return s.wait(ctx, 30*time.Second)
	}
	m.setState(ModemConnecting, "")
	apn := modem.APN{Name: cfg.APN, User: cfg.User, Password: cfg.Password}
	if cfg.User != "" {
		apn.Auth = modem.AuthCHAP
	}
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	err := drv.Connect(c, apn)
	cancel()
	if err != nil {
		if !s.notResponding(err) {
			m.setState(ModemConnecting, sayConnectError(err, cfg.APN))
		}
		return s.wait(ctx, 10*time.Second)
	}
	s.upSince = time.Now()
	if s.ppp {
		if st := s.startPPP(ctx, apn); st != stepNext {
			return st
		}
	}
	if s.method == config.MethodModem || s.method == "" && drv.PreferModemAddress() && !s.ppp {
		c, cancel := cmdCtx(ctx)
		ip, err := drv.Address(c)
		cancel()
		if err != nil {
			m.setState(ModemConnecting, "the modem did not tell its address: "+sayModemError(err))
		} else {
			m.setStaticAddr(&AddrConfig{Address: ip.Address, Gateway: ip.Gateway, DNS: ip.DNS})
		}
	}
	m.setState(ModemConnected, "")
	return stepNext
}

// startPPP lends the AT port to pppd when it is shared, runs pppd and
// waits for its address.
func (s *modemSession) startPPP(ctx context.Context, apn modem.APN) step {
	m, drv := s.m, s.drv
	params := drv.PPP(apn)
	if params.SharedATPort {
		// One tty for AT and PPP: the engine lets go of it until pppd
		// has exited.
		c, cancel := cmdCtx(ctx)
		err := drv.Suspend(c)
		cancel()
		if err != nil {
			m.setState(ModemConnecting, "the AT port could not be lent to pppd: "+sayModemError(err))
			return s.wait(ctx, s.redialWait)
		}
		s.suspended = true
	}
	var err error
	s.pppd, err = startPPPD(params, filepath.Join(paths.RunDir(), "ppp"), m.log)
	if err != nil {
		m.setState(ModemConnecting, "pppd did not start: "+err.Error())
		if !s.endPPP() {
			return stepEnd
		}
		return s.wait(ctx, s.redialWait)
	}
	m.mu.Lock()
	m.pppIface = pppIface
	m.mu.Unlock()
	m.setIface(pppIface)
	waitAddr := m.pppAddress
	if waitAddr == nil {
		waitAddr = waitPPPAddress
	}
	c, err := waitAddr(ctx, pppIface, s.pppd, 45*time.Second)
	if err != nil {
		m.setState(ModemConnecting, err.Error())
		m.pppDown()
		if !s.endPPP() {
			return stepEnd
		}
		return s.wait(ctx, s.redialWait)
	}
	m.setStaticAddr(c)
	return stepNext
}

// endPPP stops pppd (waiting for it to exit) and only then gives the AT
// port back to the engine; false when the port could not be resumed (the
// session must reopen the modem).
func (s *modemSession) endPPP() bool {
	stopPPPD(s.pppd, s.m.log)
	s.pppd = nil
	if !s.suspended {
		return true
	}
	s.suspended = false
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.drv.Resume(c); err != nil {
		s.m.log.Warn("modem resume after pppd", "err", err)
		s.m.setState(ModemOpening, "the AT port could not be taken back from pppd: "+sayModemError(err))
		return false
	}
	return true
}

// connected watches the link until it ends, then acts on why.
func (s *modemSession) connected(ctx context.Context) step {
	m, drv := s.m, s.drv
	var pppExited <-chan struct{}
	if s.pppd != nil {
		pppExited = s.pppd.done
	}
	up := s.upSince
	r := m.watch(ctx, drv, s.events, pppExited, s.upSince)
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
	case "closed":
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

// ifaceChanged reports a configured data interface other than the one in use.
func (m *modemManager) ifaceChanged() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Interface != "" && m.cfg.Interface != m.iface
}
