package netctl

import (
	"context"
	"errors"
	"reflect"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
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
	dataPort  string    // pppd's tty when it is not the AT port
	regSince  time.Time // unregistered since
	radioAt   time.Time // last radio check while unregistered
	// radioStuck counts radio-on attempts in a row that left the radio
	// off (modem.ErrRadioStuck).
	radioStuck int
	// deniedCycleAt: when the radio was last cycled for a denial.
	deniedCycleAt time.Time
	upSince       time.Time    // when the data connection last came up
	dialCfg       config.Modem // the settings this round read (and dialled with)
	// locked: the identity was read while the SIM wanted its PIN, so it
	// lacks what only an unlocked SIM gives (IMSI, own number).
	locked bool
	// readyRead: the identity was read since the SIM last became ready.
	// Read before (the session's start while the SIM was still busy
	// after boot, +CME ERROR: 14) it lacks the IMSI and ICCID.
	readyRead bool
	// deniedWords: why the network denies the card, asked once per
	// denial (modem_reject.go); "" while not denied.
	deniedWords string
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
	s.dialCfg = cfg
	if down {
		m.setState(ModemDisconnected, "")
		return s.wait(ctx, 0)
	}
	if m.voiceSlot != "" {
		// Voice and SMS only: no data session (modem_voice.go).
		for _, state := range []func(context.Context, config.Modem, string) step{s.sim, s.register} {
			if st := state(ctx, cfg, failed); st != stepNext {
				return st
			}
		}
		return s.registered(ctx)
	}
	for _, state := range []func(context.Context, config.Modem, string) step{s.sim, s.register, s.connect} {
		if st := state(ctx, cfg, failed); st != stepNext {
			return st
		}
	}
	return s.connected(ctx)
}

// noIfaceGrace is how long an opened modem may lack its network interface
// before it is shown as faulty.
const noIfaceGrace = 45 * time.Second

// cmdCtx bounds one driver call.
func cmdCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 30*time.Second)
}

// setup reads the identity and points the modem uplink at the data
// interface; false when the modem cannot be used as configured.
func (s *modemSession) setup(ctx context.Context) bool {
	m, drv := s.m, s.drv
	s.readIdentity(ctx)
	if m.voiceSlot != "" {
		return true // no data interface to find
	}
	m.mu.Lock()
	iface := m.cfg.Interface
	if iface == "" {
		iface = drv.Device().NetIface
	}
	if iface == "" {
		// Boards where the AT port and the data port are separate USB
		// devices (QEMU's usb-serial + usb-net) name it in the role map.
		iface = m.s.roleIface("modem")
	}
	s.method = m.cfg.Method
	m.iface = iface
	m.mu.Unlock()
	s.ppp = s.method == config.MethodPPP || drv.PPPOnly()
	if !s.ppp {
		if iface == "" {
			// The interface's driver may still be loading (init loads USB
			// network drivers once the services run) or the card still
			// enumerating: detect it again shortly before calling it a fault.
			if m.noIfaceSince.IsZero() {
				m.noIfaceSince = time.Now()
			}
			if time.Since(m.noIfaceSince) < noIfaceGrace {
				m.setState(ModemOpening, "waiting for the modem's network interface to appear")
				s.wait(ctx, 2*time.Second)
				return false
			}
			m.setState(netapi.ModemFaulty, "the modem has no network interface; set network.modem.interface or method ppp")
			s.wait(ctx, time.Minute)
			return false
		}
		m.noIfaceSince = time.Time{}
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
			case modem.EventRemoved:
				s.m.noteRemoved()
				return stepEnd
			case modem.EventFaulty:
				if s.m.voiceSlot != "" {
					// No uplink health asks a voice modem's reset
					// (checkDead): its engine gave up, so netctl
					// escalates now (modem_voice.go).
					return s.voiceFaulty(ctx)
				}
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
	if errors.Is(err, modem.ErrRemoved) {
		// Not a hang: its event ends the session (wait).
		s.m.noteRemoved()
		return true
	}
	if !modemSilent(err) {
		return false
	}
	s.m.setState(ModemNotResponding, sayModemError(err))
	return true
}

// configIs tells whether the modem's settings are still c.
func (m *modemManager) configIs(c config.Modem) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return reflect.DeepEqual(m.cfg, c)
}

// ifaceChanged reports a configured data interface other than the one in use.
func (m *modemManager) ifaceChanged() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg.Interface != "" && m.cfg.Interface != m.iface
}
