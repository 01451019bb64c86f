package modem

import (
	"context"
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Modem is one opened modem: the AT engine running in its own goroutine
// plus the vendor profile. All methods are safe for concurrent use.
type Modem struct {
	dev  Device
	opts Options
	eng  *Engine
	prof profile
	log  *slog.Logger
	pins *pinGuard
	sms  *smsStore
	enc  *SMSEncoder

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	runErr error

	evMu   sync.Mutex
	events chan Event
	closed bool

	linkMu    sync.Mutex
	linkWatch []chan LinkStatus
	smsMu     sync.Mutex // one SMS fetch/send at a time

	// background goroutines (URC handler, SMS fetches, re-init), waited
	// for by Close
	bgMu     sync.Mutex
	bgClosed bool
	bg       sync.WaitGroup

	// last known states, so polls and URCs emit an event only on change
	stMu    sync.Mutex
	lastSIM SIMState
	lastReg RegState
	// pinAcceptedAt is when the card last accepted a PIN: until pinSettle
	// has passed, no PIN is sent again (one PIN per unlock).
	pinAcceptedAt time.Time
	// pinAcceptedICCID is the SIM that accepted it: another SIM asking
	// for a PIN (swapped in) is not lagging behind that acceptance.
	pinAcceptedICCID string
}

// spawn runs f in a goroutine that Close waits for; after Close it does
// nothing.
func (m *Modem) spawn(f func()) {
	m.bgMu.Lock()
	if m.bgClosed {
		m.bgMu.Unlock()
		return
	}
	m.bg.Add(1)
	m.bgMu.Unlock()
	go func() {
		defer m.bg.Done()
		f()
	}()
}

// noteSIM emits EventSIM when the SIM state changed.
func (m *Modem) noteSIM(st SIMStatus, t time.Time) bool {
	m.stMu.Lock()
	changed := st.State != m.lastSIM
	m.lastSIM = st.State
	if st.State == SIMAbsent {
		m.pinAcceptedAt = time.Time{} // a new SIM (or the same, re-inserted) asks again
	}
	m.stMu.Unlock()
	if changed {
		m.emit(Event{Kind: EventSIM, SIM: &st, Time: t})
	}
	return changed
}

// noteReg emits EventRegistration when the state changed.
func (m *Modem) noteReg(reg Registration, t time.Time) {
	m.stMu.Lock()
	changed := reg.State != m.lastReg
	m.lastReg = reg.State
	m.stMu.Unlock()
	if changed {
		m.emit(Event{Kind: EventRegistration, Registration: &reg, Time: t})
	}
}

// Open opens the AT port of dev, starts the engine and initialises the
// modem with its profile (echo off, numeric errors, URCs on). It does not
// enter a PIN or connect.
func Open(ctx context.Context, opts Options) (*Modem, error) {
	dev := opts.Device
	if dev.Port == "" {
		return nil, errors.New("modem: no AT port given")
	}
	if dev.Profile == "" {
		dev.Profile = "generic"
	}
	prof, err := newProfile(dev.Profile)
	if err != nil {
		return nil, err
	}
	open := opts.OpenPort
	if open == nil {
		open = func() (io.ReadWriteCloser, error) { return OpenSerial(dev.Port, opts.Baud) }
		if opts.PortGone == nil {
			opts.PortGone = nodeGone(dev.Port)
		}
	}
	return openWith(ctx, opts, dev, prof, open)
}

func openWith(ctx context.Context, opts Options, dev Device, prof profile, open func() (io.ReadWriteCloser, error)) (*Modem, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("modem", dev.Port)
	m := &Modem{
		dev: dev, opts: opts, prof: prof, log: log,
		done:   make(chan struct{}),
		events: make(chan Event, 64),
		enc:    NewSMSEncoder(int(time.Now().UnixNano() % 256)),
	}
	stateDir := opts.StateDir
	if stateDir == "" {
		stateDir = opts.SMSDir
	}
	m.pins = newPINGuard(stateDir)
	if opts.SMSDir != "" {
		st, err := openSMSStore(opts.SMSDir)
		if err != nil {
			return nil, fmt.Errorf("modem %s: %w", dev.Port, err)
		}
		m.sms = st
	}
	m.eng = NewEngine(EngineConfig{
		Open:         open,
		Timeout:      opts.CommandTimeout,
		MaxTimeouts:  opts.MaxTimeouts,
		ResetCommand: prof.ResetCommand(),
		SlotReset:    opts.SlotReset,
		ProbeTimeout: opts.ProbeTimeout,
		RebootWait:   opts.RebootWait,
		Gone:         opts.PortGone,
		Logger:       log,
	})
	urcs, _ := m.eng.Subscribe(1024)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		defer close(m.done)
		close(started)
		m.runErr = m.eng.Run(m.ctx)
	}()
	<-started
	m.spawn(func() { m.handleURCs(urcs) })
	if err := m.init(ctx); err != nil {
		select {
		case <-m.done: // the engine could not even open the port
			if m.runErr != nil {
				err = m.runErr
			}
		default:
		}
		m.Close()
		if errors.Is(err, ErrTimeout) || errors.Is(err, ErrFaulty) || errors.Is(err, errNotReady) {
			tried := []string{prof.Name() + " init"}
			var te *timeoutError
			if errors.As(err, &te) {
				tried = append(tried, te.Command)
			}
			return nil, &FaultyModemError{Port: dev.Port, Tried: tried, Err: err}
		}
		return nil, fmt.Errorf("modem %s: init: %w", dev.Port, err)
	}
	// Messages that arrived while the box was off, then a slow poll for
	// messages whose +CMTI was lost or could not be stored.
	m.spawn(m.pollSMS)
	return m, nil
}

func (m *Modem) pollSMS() {
	if m.sms == nil {
		return
	}
	every := m.opts.SMSPoll
	if every == 0 {
		every = 5 * time.Minute
	}
	for {
		if _, err := m.FetchSMS(m.ctx); err != nil && m.ctx.Err() == nil {
			m.log.Debug("SMS fetch", "err", err)
		}
		if every < 0 {
			return
		}
		t := time.NewTimer(every)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// init runs the profile's init plus SMS setup (which fails harmlessly
// while the SIM is locked; it is repeated once the SIM is ready).
func (m *Modem) init(ctx context.Context) error {
	// Wake the modem: the first command after opening a port is often
	// lost. Timeouts here start the engine's recovery (reopen, reset,
	// slot reset), which ends in a clear fault for a dead card.
	var err error
	for i := 0; i < m.eng.cfg.MaxTimeouts+1; i++ {
		if err = m.eng.Sync(ctx); err == nil || isModemAnswer(err) || errors.Is(err, ErrFaulty) || ctx.Err() != nil {
			break
		}
	}
	if err != nil && !isModemAnswer(err) {
		return err
	}
	if err := m.prof.Init(ctx, m.eng); err != nil {
		return err
	}
	if err := m.RadioOn(ctx); err != nil {
		// Not fatal here: the card may refuse until its SIM is ready;
		// netctl asks again while it waits for the network.
		m.log.Warn("modem radio on", "err", err)
	}
	m.smsSetup(ctx)
	return nil
}

// RestoreSettings sets again what the engine relies on (echo off, result
// codes, numeric errors, character set, URCs, SMS mode) after someone else
// may have changed them, e.g. through the AT passthrough. It leaves the
// radio and the data connection alone.
func (m *Modem) RestoreSettings(ctx context.Context) error {
	if err := m.prof.Init(ctx, m.eng); err != nil {
		return m.wrap("restore settings", err)
	}
	m.smsSetup(ctx)
	return nil
}

// RadioOn drives the radio to full function (+CFUN=1) from whatever state
// the card is in: CFUN 0 after our own shutdown (the card keeps it while
// the box runs), 4 (Ericsson's boot state, flight mode) or a vendor's
// offline mode. It reads +CFUN? first and sends nothing when already on.
func (m *Modem) RadioOn(ctx context.Context) error {
	r, err := m.eng.Command(ctx, "AT+CFUN?", 0)
	if err != nil && !isModemAnswer(err) {
		return m.wrap("radio on", err)
	}
	if err == nil {
		if l, ok := r.Line("+CFUN:"); ok {
			if f := Fields(l); len(f) > 0 && f[0] == "1" {
				return nil
			}
			m.log.Info("modem radio is off; switching it on", "cfun", l)
		}
	}
	// Switching the radio on can take seconds on a real card.
	if _, err := m.eng.Command(ctx, "AT+CFUN=1", 30*time.Second); err != nil {
		return m.wrap("radio on", err)
	}
	return nil
}

// RadioOnVerified is RadioOn that reads +CFUN? again afterwards: a card
// stuck in flight mode (after a firmware crash) takes AT+CFUN=1 and stays
// off, which only a restart ends; that is ErrRadioStuck. (Not part of
// init: its background re-init must stay short.)
func (m *Modem) RadioOnVerified(ctx context.Context) error {
	if err := m.RadioOn(ctx); err != nil {
		return err
	}
	for i := 0; ; i++ {
		r, err := m.eng.Command(ctx, "AT+CFUN?", 0)
		if err != nil {
			return nil // no answer to judge by: taken as on
		}
		l, ok := r.Line("+CFUN:")
		if f := Fields(l); !ok || len(f) == 0 || f[0] == "1" {
			return nil
		}
		if i == 3 {
			return m.wrap("radio on", fmt.Errorf("%w (+CFUN: %s after AT+CFUN=1)", ErrRadioStuck, l))
		}
		sleepCtx(ctx, 500*time.Millisecond)
		if err := ctx.Err(); err != nil {
			return m.wrap("radio on", err)
		}
	}
}

// ErrRadioStuck: the card took AT+CFUN=1 and its radio stayed off.
var ErrRadioStuck = errors.New("the modem's radio stays off (flight mode) after AT+CFUN=1")

func (m *Modem) smsSetup(ctx context.Context) {
	// CNMI ds=1: status reports of sent SMS come as +CDS (sms_report.go).
	for _, c := range []string{"AT+CMGF=0", `AT+CPMS="SM","SM","SM"`, "AT+CNMI=2,1,0,1,0"} {
		if _, err := m.eng.Command(ctx, c, 0); err != nil {
			m.log.Debug("SMS setup", "cmd", c, "err", err)
			return
		}
	}
}

// Close stops the engine and closes the port. It does not turn the radio off.
func (m *Modem) Close() error {
	m.cancel()
	<-m.done
	m.bgMu.Lock()
	m.bgClosed = true
	m.bgMu.Unlock()
	m.bg.Wait()
	m.evMu.Lock()
	if !m.closed {
		m.closed = true
		close(m.events)
	}
	m.evMu.Unlock()
	if errors.Is(m.runErr, context.Canceled) {
		return nil
	}
	return m.runErr
}

// Engine gives access to raw AT commands (edgectl modem at ...).
func (m *Modem) Engine() *Engine { return m.eng }

// Device returns the device this modem was opened on.
func (m *Modem) Device() Device { return m.dev }

// ProfileName is the vendor profile in use.
func (m *Modem) ProfileName() string { return m.prof.Name() }

// PPPOnly reports a modem without a network interface (pppd is needed).
func (m *Modem) PPPOnly() bool { return m.prof.PPPOnly() }

// PreferModemAddress reports that the address from Address should be used
// instead of DHCP on the network interface.
func (m *Modem) PreferModemAddress() bool { return m.prof.PreferModemAddress() }

// Events delivers changes reported by the modem. The channel is closed by
// Close. Slow readers lose the oldest events, never block the engine.
func (m *Modem) Events() <-chan Event { return m.events }

func (m *Modem) emit(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	m.evMu.Lock()
	defer m.evMu.Unlock()
	if m.closed {
		return
	}
	for {
		select {
		case m.events <- ev:
			return
		default:
			select {
			case <-m.events: // drop the oldest
			default:
			}
		}
	}
}

// Identity reads manufacturer, model, firmware, IMEI and, when the SIM is
// ready, IMSI and ICCID.
func (m *Modem) Identity(ctx context.Context) (Identity, error) {
	var id Identity
	get := func(c, prefix string) (string, error) {
		r, err := m.eng.Command(ctx, c, 0)
		if errors.Is(err, ErrRebooted) {
			// A boot URC cut the command short: get back in step
			// with the modem and ask again.
			if err = m.eng.Sync(ctx); err == nil {
				r, err = m.eng.Command(ctx, c, 0)
			}
		}
		if err != nil {
			return "", err
		}
		return parseInfoLine(r.Lines, prefix), nil
	}
	var err error
	if id.Manufacturer, err = get("AT+CGMI", "+CGMI:"); err != nil {
		return id, m.wrap("identity", err)
	}
	if id.Model, err = get("AT+CGMM", "+CGMM:"); err != nil {
		return id, m.wrap("identity", err)
	}
	if id.Firmware, err = get("AT+CGMR", "+CGMR:"); err != nil {
		return id, m.wrap("identity", err)
	}
	imei, err := get("AT+CGSN", "+CGSN:")
	if err != nil {
		return id, m.wrap("identity", err)
	}
	if id.IMEI, err = parseIMEI(imei); err != nil {
		return id, m.wrap("identity", err)
	}
	if s, err := get("AT+CIMI", "+CIMI:"); err == nil {
		id.IMSI, _ = parseIMSI(s)
	}
	id.ICCID, _ = m.prof.ICCID(ctx, m.eng)
	id.Number = readNumber(ctx, m.eng)
	return id, nil
}

func (m *Modem) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("modem %s: %s: %w", m.dev.Port, what, err)
}

// SIM reads the SIM state and the attempts left.
func (m *Modem) SIM(ctx context.Context) (SIMStatus, error) {
	st := SIMStatus{State: SIMUnknown, PINAttempts: -1, PUKAttempts: -1}
	r, err := m.eng.Command(ctx, "AT+CPIN?", 0)
	cpinErr := err
	switch {
	case IsCME(err, CMESIMNotInserted):
		st.State = SIMAbsent
		m.noteSIM(st, time.Now())
		return st, nil
	case IsCME(err, CMESIMBusy):
		st.State = SIMBusy
		return st, nil
	case IsCME(err, cmeSIMFailure), IsCME(err, cmeSIMWrong):
		st.State = SIMError
		return st, nil
	case IsCME(err, 262):
		// "SIM blocked": its PUK attempts are used up too.
		st.State = SIMPUK
	case IsCME(err, CMESIMPUKRequired):
		st.State = SIMPUK
	case err != nil:
		return st, m.wrap("SIM state", err)
	default:
		l, ok := r.Line("+CPIN:")
		if !ok {
			return st, m.wrap("SIM state", fmt.Errorf("no +CPIN line in %q", r.Lines))
		}
		if st.State, err = ParseCPIN(l); err != nil {
			return st, m.wrap("SIM state", err)
		}
	}
	if a, err := m.prof.PINAttempts(ctx, m.eng); err == nil {
		st.PINAttempts, st.PUKAttempts = a.PIN, a.PUK
	} else if IsCME(cpinErr, 262) {
		st.PUKAttempts = 0
	}
	if id, err := m.prof.ICCID(ctx, m.eng); err == nil {
		st.ICCID = id
	}
	st.PINRejected = st.State == SIMPIN && m.pins.anyRejected(st.ICCID)
	m.noteSIM(st, time.Now())
	return st, nil
}

var pinRE = lazyregexp.New(`^[0-9]{4,8}$`)

// EnterPIN sends pin if the SIM asks for one. A PIN the SIM already
// rejected for this ICCID is refused with ErrPINAlreadyRejected; a wrong
// PIN returns ErrWrongPIN and is never retried automatically.
func (m *Modem) EnterPIN(ctx context.Context, pin string) error {
	if !pinRE.MatchString(pin) {
		return errors.New("a SIM PIN is 4 to 8 digits")
	}
	st, err := m.SIM(ctx)
	if err != nil {
		return err
	}
	switch st.State {
	case SIMReady:
		return nil
	case SIMPIN:
	case SIMPUK:
		return fmt.Errorf("the SIM is blocked and needs its PUK (%d attempts left): unblock it with the PUK", st.PUKAttempts)
	case SIMAbsent:
		return errors.New("no SIM card: insert one and power-cycle the box")
	default:
		return fmt.Errorf("the SIM is not asking for a PIN (state %s)", st.State)
	}
	key := st.ICCID
	if m.pins.rejected(key, pin) {
		return fmt.Errorf("%w (SIM %s)", ErrPINAlreadyRejected, key)
	}
	m.stMu.Lock()
	recent := !m.pinAcceptedAt.IsZero() && time.Since(m.pinAcceptedAt) < pinSettle &&
		(key == "" || m.pinAcceptedICCID == "" || key == m.pinAcceptedICCID)
	m.stMu.Unlock()
	if st.PINAttempts == 1 && !recent && !m.pins.knownGood(key, pin) {
		// A wrong PIN now blocks the SIM for good (PUK, a phone, a
		// trip to the box): only a PIN this SIM took before is risked.
		return ErrLastPINAttempt
	}
	if recent {
		// The card took a PIN moments ago and still says SIM PIN (the
		// DW5550 does for a while): sending it again would be refused
		// (+CME ERROR: 3) or burn an attempt. Wait for ready instead.
		return m.waitSIMReady(ctx)
	}
	_, err = m.eng.Command(ctx, fmt.Sprintf(`AT+CPIN="%s"`, pin), 20*time.Second)
	switch {
	case err == nil:
		m.pins.accepted(key, pin)
		m.stMu.Lock()
		m.pinAcceptedAt, m.pinAcceptedICCID = time.Now(), key
		m.stMu.Unlock()
		if err := m.waitSIMReady(ctx); err != nil {
			return err
		}
		m.smsSetup(ctx)
		m.spawn(func() { m.FetchSMS(m.ctx) }) // messages that waited behind the PIN
		return nil
	case IsCME(err, CMEIncorrectPass), IsCME(err, CMESIMPUKRequired), IsCME(err, 262):
		m.pins.reject(key, pin)
		left := -1
		if a, err := m.prof.PINAttempts(ctx, m.eng); err == nil {
			left = a.PIN
		}
		return fmt.Errorf("%w (%d attempts left); it will not be sent again", ErrWrongPIN, left)
	case errors.Is(err, ErrTimeout):
		// Unknown outcome: if the SIM is still locked, treat the PIN as
		// rejected rather than risk burning another attempt.
		if st2, err2 := m.SIM(ctx); err2 == nil && st2.State == SIMReady {
			m.pins.accepted(key, pin)
			return nil
		}
		m.pins.reject(key, pin)
		return m.wrap("enter PIN", err)
	case isModemAnswer(err) && !IsCME(err, CMESIMBusy):
		// Refused in words the box does not know (plain ERROR from a
		// card that ignores AT+CMEE, firmware's own text): the SIM
		// tells what happened. Not knowing, the PIN is taken as
		// rejected: sent again, a wrong one would block the SIM.
		return m.pinRefused(ctx, key, pin, st, err)
	}
	return m.wrap("enter PIN", err)
}

// pinRefused decides an AT+CPIN refusal that named no known cause by the
// SIM's state: ready, the PIN was taken; still asking with as many
// attempts left as before, the PIN was not tried (the error is
// returned, the PIN may be sent again); else it was wrong.
func (m *Modem) pinRefused(ctx context.Context, key, pin string, before SIMStatus, err error) error {
	st, err2 := m.SIM(ctx)
	switch {
	case err2 == nil && st.State == SIMReady:
		m.pins.accepted(key, pin)
		return nil
	case err2 == nil && st.State == SIMPIN && before.PINAttempts > 0 && st.PINAttempts == before.PINAttempts:
		return m.wrap("enter PIN", err)
	}
	m.pins.reject(key, pin)
	left := -1
	if err2 == nil {
		left = st.PINAttempts
	}
	m.log.Warn("PIN refused without a known cause: taken as wrong, not sent again", "answer", err, "attempts_left", left)
	return fmt.Errorf("%w (%d attempts left); it will not be sent again", ErrWrongPIN, left)
}

// pinSettle is how long after an accepted PIN the card may still say
// SIM PIN; no PIN is sent again meanwhile.
const pinSettle = time.Minute

// waitSIMReady polls +CPIN? after an accepted PIN until the card no longer
// asks for it (bounded by ctx and 20 s).
func (m *Modem) waitSIMReady(ctx context.Context) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := m.eng.Command(ctx, "AT+CPIN?", 0)
		if err == nil {
			if l, ok := r.Line("+CPIN:"); ok {
				if st, err := ParseCPIN(l); err == nil && st != SIMPIN {
					return nil
				}
			}
		} else if !isModemAnswer(err) {
			return m.wrap("SIM ready after the PIN", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return m.wrap("SIM ready after the PIN", errors.New("the SIM accepted the PIN but is not ready yet; wait a minute"))
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

var pukRE = lazyregexp.New(`^[0-9]{8}$`)

// EnterPUK unblocks a PUK-locked SIM with puk and sets newPIN. It is only
// ever called for an installer's entry, never retried: a PUK this SIM
// refused is not sent again (ErrPUKAlreadyRejected), a wrong one returns
// ErrWrongPUK with the attempts left, none left ErrSIMBlockedForGood.
// On success newPIN is recorded as the PIN this SIM accepted.
func (m *Modem) EnterPUK(ctx context.Context, puk, newPIN string) error {
	if !pukRE.MatchString(puk) {
		return errors.New("a PUK is 8 digits")
	}
	if !pinRE.MatchString(newPIN) {
		return errors.New("a SIM PIN is 4 to 8 digits")
	}
	st, err := m.SIM(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.State == SIMAbsent:
		return errors.New("no SIM card: insert one and power-cycle the box")
	case st.State != SIMPUK:
		return fmt.Errorf("%w (state %s)", ErrNotPUKLocked, st.State)
	case st.PUKAttempts == 0:
		return ErrSIMBlockedForGood
	}
	key := st.ICCID
	if m.pins.rejected(key, pukKey(puk)) {
		if st.PUKAttempts < 0 {
			return ErrPUKAlreadyRejected
		}
		return fmt.Errorf("%w (%d PUK attempts left)", ErrPUKAlreadyRejected, st.PUKAttempts)
	}
	_, err = m.eng.Command(ctx, fmt.Sprintf(`AT+CPIN="%s","%s"`, puk, newPIN), 20*time.Second)
	switch {
	case err == nil:
	case IsCME(err, CMEIncorrectPass), IsCME(err, CMESIMPUKRequired), IsCME(err, 262), IsCME(err, 316), IsCME(err, 3):
		m.pins.reject(key, pukKey(puk))
		left := -1
		if a, err := m.prof.PINAttempts(ctx, m.eng); err == nil {
			left = a.PUK
		}
		if left == 0 {
			return ErrSIMBlockedForGood
		}
		if left < 0 {
			return fmt.Errorf("%w; it will not be sent again", ErrWrongPUK)
		}
		return fmt.Errorf("%w (%d PUK attempts left); it will not be sent again", ErrWrongPUK, left)
	case errors.Is(err, ErrTimeout) || ctx.Err() != nil:
		// Unknown outcome (the PUK may not even have been written):
		// read the SIM rather than guess; nothing is recorded.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if st2, err2 := m.SIM(rctx); err2 == nil && st2.State != SIMPUK && st2.State != SIMUnknown {
			break
		}
		return m.wrap("enter PUK", err)
	case isModemAnswer(err) && !IsCME(err, CMESIMBusy):
		// Refused in words the box does not know (plain ERROR): the
		// SIM tells. Unlocked, it was taken; still blocked with as
		// many PUK attempts left, not tried; else wrong, and not sent
		// again (ten wrong PUKs destroy the SIM).
		st2, err2 := m.SIM(ctx)
		switch {
		case err2 == nil && st2.State != SIMPUK && st2.State != SIMUnknown:
		case err2 == nil && st.PUKAttempts > 0 && st2.PUKAttempts == st.PUKAttempts:
			return m.wrap("enter PUK", err)
		default:
			m.pins.reject(key, pukKey(puk))
			if err2 == nil && st2.PUKAttempts == 0 {
				return ErrSIMBlockedForGood
			}
			if err2 != nil || st2.PUKAttempts < 0 {
				return fmt.Errorf("%w; it will not be sent again", ErrWrongPUK)
			}
			return fmt.Errorf("%w (%d PUK attempts left); it will not be sent again", ErrWrongPUK, st2.PUKAttempts)
		}
	default:
		return m.wrap("enter PUK", err)
	}
	m.pins.accepted(key, newPIN)
	m.stMu.Lock()
	m.pinAcceptedAt, m.pinAcceptedICCID = time.Now(), key
	m.stMu.Unlock()
	if err := m.waitSIMReady(ctx); err != nil {
		return err
	}
	m.smsSetup(ctx)
	m.spawn(func() { m.FetchSMS(m.ctx) })
	return nil
}

// pukKey keeps a refused PUK apart from PINs in the rejected record.
func pukKey(puk string) string { return "puk:" + puk }

// Registration reads the registration state, access technology and operator.
func (m *Modem) Registration(ctx context.Context) (Registration, error) {
	var best *RegInfo
	var bestRank int
	var firstErr error
	anyAnswer := false
	for _, q := range []string{"+CEREG", "+CGREG", "+CREG"} {
		r, err := m.eng.Command(ctx, "AT"+q+"?", 0)
		if err != nil {
			if !isModemAnswer(err) {
				return Registration{}, m.wrap("registration", err)
			}
			continue
		}
		l, ok := r.Line(q + ":")
		if !ok {
			continue
		}
		ri, err := parseCREG(l, true)
		if err != nil {
			firstErr = err
			continue
		}
		anyAnswer = true
		if rank := regRank(ri.Stat); best == nil || rank > bestRank {
			ri := ri
			best, bestRank = &ri, rank
			if ri.AcT < 0 && q == "+CEREG" && regStateOf(ri.Stat).Registered() {
				best.AcT = 7
			}
		}
	}
	if !anyAnswer {
		if firstErr == nil {
			firstErr = errors.New("no registration answer")
		}
		return Registration{}, m.wrap("registration", firstErr)
	}
	reg := Registration{State: regStateOf(best.Stat), LAC: best.LAC, CellID: best.CellID}
	if best.AcT >= 0 {
		reg.Tech = techOfAcT(best.AcT)
	}
	if reg.State.Registered() {
		if r, err := m.eng.Command(ctx, "AT+COPS?", 0); err == nil {
			if l, ok := r.Line("+COPS:"); ok {
				if op, act, err := ParseCOPS(l); err == nil {
					reg.Operator = op
					if act >= 0 && reg.Tech == TechUnknown {
						reg.Tech = techOfAcT(act)
					}
				}
			}
		}
		if t, err := m.prof.Tech(ctx, m.eng); err == nil && t != TechUnknown {
			reg.Tech = t
		}
	}
	m.noteReg(reg, time.Now())
	return reg, nil
}

// regRank orders states so the most useful answer of CS/PS/EPS wins.
func regRank(stat int) int {
	switch regStateOf(stat) {
	case RegHome, RegRoaming:
		return 4
	case RegDenied:
		return 3
	case RegSearching:
		return 2
	case RegNotRegistered:
		return 1
	}
	return 0
}

// Signal reads the signal strength.
func (m *Modem) Signal(ctx context.Context) (Signal, error) {
	s, err := m.prof.Signal(ctx, m.eng)
	if err != nil {
		return s, m.wrap("signal", err)
	}
	if b, ok := m.prof.(bandReader); ok {
		s.Band = b.Band(ctx, m.eng)
	}
	return s, nil
}

var apnRE = lazyregexp.New(`^[A-Za-z0-9][A-Za-z0-9.\-_]{0,99}$`)

// validateAPN checks apn for what can safely go into an AT command.
func validateAPN(apn APN) error {
	if !apnRE.MatchString(apn.Name) {
		return fmt.Errorf("APN %q: letters, digits, '.', '-' and '_' only", apn.Name)
	}
	for what, v := range map[string]string{"user": apn.User, "password": apn.Password} {
		if strings.ContainsAny(v, "\"\r\n\x1a\x1b") || len(v) > 64 {
			return fmt.Errorf("APN %s: no quotes or control characters, at most 64 characters", what)
		}
	}
	switch apn.Auth {
	case "", AuthNone, AuthPAP, AuthCHAP:
	default:
		return fmt.Errorf("APN auth %q: want none, pap or chap", apn.Auth)
	}
	return nil
}

// Connect brings the data connection up with apn. For PPP-only modems it
// only configures the PDP context; netctl then runs pppd with PPPDArgs.
func (m *Modem) Connect(ctx context.Context, apn APN) error {
	if err := validateAPN(apn); err != nil {
		return err
	}
	if m.prof.PPPOnly() {
		return m.wrap("connect", m.prof.Connect(ctx, m.eng, apn))
	}
	watch := m.watchLink()
	defer m.unwatchLink(watch)
	if err := m.prof.Connect(ctx, m.eng, apn); err != nil {
		if cause := refusalCause(err); cause != "" {
			// The activation refused with a +CME code that is the
			// network's session cause (27.007 §9.2.2): in words.
			return m.wrap("connect", &ConnectRefusedError{APN: apn.Name, Cause: smCause(cause)})
		}
		return m.wrap("connect", err)
	}
	timeout := m.opts.ConnectTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return m.wrap("connect", &NoLinkError{APN: apn.Name, After: timeout})
		case ls := <-watch:
			if ls.Connected {
				return nil
			}
			// A plain "down" may be the late URC of an earlier
			// disconnect; only a failure with a cause ends the wait.
			if ls.Cause != "" {
				return m.wrap("connect", &ConnectRefusedError{APN: apn.Name, Cause: ls.Cause})
			}
		case <-poll.C:
			ls, err := m.prof.LinkStatus(ctx, m.eng)
			if err == nil && ls.Connected {
				return nil
			}
			if errors.Is(err, ErrRemoved) {
				return m.wrap("connect", err) // no link without a card
			}
		}
	}
}

// cmeSMCauses are the +CME ERROR codes of a refused PDP activation that
// stand for a 24.008 session management cause (27.007 §9.2.2).
var cmeSMCauses = map[int]string{533: "27", 149: "29", 132: "32", 133: "33", 134: "34"}

// refusalCause is the session management cause err carries, "" if none.
func refusalCause(err error) string {
	var c *CMEError
	if errors.As(err, &c) {
		return cmeSMCauses[c.Code]
	}
	return ""
}

func (m *Modem) watchLink() chan LinkStatus {
	ch := make(chan LinkStatus, 8)
	m.linkMu.Lock()
	m.linkWatch = append(m.linkWatch, ch)
	m.linkMu.Unlock()
	return ch
}

func (m *Modem) unwatchLink(ch chan LinkStatus) {
	m.linkMu.Lock()
	defer m.linkMu.Unlock()
	for i, c := range m.linkWatch {
		if c == ch {
			m.linkWatch = append(m.linkWatch[:i], m.linkWatch[i+1:]...)
			return
		}
	}
}

// Disconnect brings the data connection down; already down is not an error.
func (m *Modem) Disconnect(ctx context.Context) error {
	if err := m.prof.Disconnect(ctx, m.eng); err != nil {
		return m.wrap("disconnect", err)
	}
	return nil
}

// Link reads the data connection state.
func (m *Modem) Link(ctx context.Context) (LinkStatus, error) {
	ls, err := m.prof.LinkStatus(ctx, m.eng)
	if err != nil {
		return ls, m.wrap("link status", err)
	}
	return ls, nil
}

// Address reads the IP configuration from the modem (^DHCP, *E2IPCFG).
func (m *Modem) Address(ctx context.Context) (IPConfig, error) {
	c, err := m.prof.AddressFromModem(ctx, m.eng)
	if err != nil {
		return c, m.wrap("address", err)
	}
	return c, nil
}

// Status reads SIM, registration, signal and link in one go; fields that
// fail are left zero and the first error is in Status.Error.
func (m *Modem) Status(ctx context.Context) Status {
	st := Status{Device: m.dev, Profile: m.prof.Name()}
	note := func(err error) {
		if err != nil && st.Error == "" {
			st.Error = err.Error()
		}
	}
	if err := m.eng.Faulty(); err != nil {
		st.Faulty = true
		st.Error = err.Error()
		return st
	}
	var err error
	st.SIM, err = m.SIM(ctx)
	note(err)
	st.Registration, err = m.Registration(ctx)
	note(err)
	st.Signal, err = m.Signal(ctx)
	note(err)
	if !m.prof.PPPOnly() {
		st.Link, err = m.Link(ctx)
		note(err)
	}
	st.Faulty = m.eng.Faulty() != nil
	return st
}

// RadioOff turns the radio off, as installers' post-down hooks do.
func (m *Modem) RadioOff(ctx context.Context) error {
	if err := m.prof.RadioOff(ctx, m.eng); err != nil {
		return m.wrap("radio off", err)
	}
	return nil
}

// RadioCycle switches the radio off in flight mode (AT+CFUN=4: the SIM
// stays powered, no PIN again) and on again, so that the card registers
// afresh.
func (m *Modem) RadioCycle(ctx context.Context) error {
	if _, err := m.eng.Command(ctx, "AT+CFUN=4", 30*time.Second); err != nil {
		return m.wrap("radio off", err)
	}
	return m.RadioOn(ctx)
}

// Reset restarts the modem with the vendor reset command and waits until
// it answers again (bounded), then initialises it.
func (m *Modem) Reset(ctx context.Context) error {
	if _, err := m.eng.Command(ctx, m.prof.ResetCommand(), 0); err != nil && !isModemAnswer(err) {
		return m.wrap("reset", err)
	}
	return m.afterReset(ctx, "reset")
}

// SlotReset power-cycles the modem's slot with its reset line
// (Options.SlotReset), waits until the modem answers and initialises it.
func (m *Modem) SlotReset(ctx context.Context) error {
	if m.opts.SlotReset == nil {
		return m.wrap("slot reset", errors.New("no reset line is known for this modem's slot"))
	}
	// The card's port leaves USB while it powers up again: no removal.
	m.eng.ExpectReboot(max(m.opts.RebootWait, 60*time.Second))
	if err := m.opts.SlotReset(); err != nil {
		return m.wrap("slot reset", err)
	}
	return m.afterReset(ctx, "slot reset")
}

func (m *Modem) afterReset(ctx context.Context, what string) error {
	m.stMu.Lock()
	m.pinAcceptedAt = time.Time{} // the SIM asks for its PIN again
	m.stMu.Unlock()
	wait := m.opts.RebootWait
	if wait <= 0 {
		wait = 60 * time.Second
	}
	deadline := time.Now().Add(wait)
	sleepCtx(ctx, 500*time.Millisecond)
	for {
		if _, err := m.eng.Command(ctx, "AT", time.Second); err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return m.wrap(what, fmt.Errorf("no answer %v after the reset", wait))
		}
		sleepCtx(ctx, 300*time.Millisecond)
	}
	return m.wrap(what+": init", m.init(ctx))
}

// PPP returns the dial parameters for pppd (PPP-only modems). pppd dials
// on the device's data port, beside the AT port the engine keeps reading.
// Without a separate data port, Port is the AT port and SharedATPort is
// set: the caller must Suspend before starting pppd and Resume after it
// exited, or pppd and the engine would take each other's bytes.
func (m *Modem) PPP(apn APN) PPPParams {
	port, shared := m.dev.DataPort, false
	if port == "" || port == m.dev.Port {
		port, shared = m.dev.Port, true
	}
	// ATZ resets the port's settings; only where the engine re-initialises
	// them afterwards (Resume) may chat send it. A separate data port only
	// needs to answer.
	reset := "AT"
	if shared {
		reset = "ATZ"
	}
	return PPPParams{
		Port:         port,
		SharedATPort: shared,
		DialString:   m.prof.DialString(),
		Init:         []string{reset, "AT+CMEE=1", fmt.Sprintf(`AT+CGDCONT=1,"IP","%s"`, apn.Name)},
		APN:          apn,
	}
}

// Suspend releases the AT port for pppd on a modem without a separate data
// port (PPPParams.SharedATPort): the engine stops reading and closes the
// port; until Resume every command, including the status polls, fails
// with ErrSuspended and no URC arrives.
func (m *Modem) Suspend(ctx context.Context) error {
	return m.wrap("suspend", m.eng.Suspend(ctx))
}

// Resume takes the AT port back after pppd exited and re-initialises the
// modem (chat's ATZ reset echo, error format and URC settings).
func (m *Modem) Resume(ctx context.Context) error {
	if err := m.eng.Resume(ctx); err != nil {
		// Not fatal yet: init's commands reopen the port or recover.
		m.log.Warn("modem resume: reopen port", "err", err)
	} else {
		m.leaveDataMode(ctx) // dataescape.go
	}
	return m.wrap("resume: init", m.init(ctx))
}

// Suspended reports whether the AT port is released to pppd.
func (m *Modem) Suspended() bool { return m.eng.Suspended() }

// PPPDArgs builds pppd's command line for p (netctl runs it). The chat
// script is passed with "connect"; credentials go with user/password, so
// whoever logs the command line must leave out the word after "password".
func PPPDArgs(p PPPParams) []string {
	chat := []string{"/usr/sbin/chat", "-v", "-t", "30",
		"ABORT", "BUSY", "ABORT", shQuote("NO CARRIER"), "ABORT", "ERROR", "ABORT", shQuote("NO DIALTONE"), shQuote("")}
	for _, c := range p.Init {
		chat = append(chat, shQuote(c), "OK")
	}
	dial := p.DialString
	if dial == "" {
		dial = "ATD*99***1#"
	}
	chat = append(chat, shQuote(dial), "CONNECT")
	args := []string{p.Port, "115200",
		"connect", strings.Join(chat, " "),
		// netctl owns routes and DNS: pppd only brings the link up.
		"nodetach", "noauth", "nodefaultroute", "usepeerdns",
		// A placeholder remote address: carriers send their own, which
		// ipcp-accept-remote takes; a peer without one (slirp, some
		// gateways) would otherwise see 0.0.0.0 refused and close IPCP.
		"noipdefault", ":10.64.64.64", "ipcp-accept-local", "ipcp-accept-remote",
		"novj", "nobsdcomp", "nodeflate", "noccp", "lock", "crtscts",
		"lcp-echo-interval", "20", "lcp-echo-failure", "3", "maxfail", "1",
	}
	if p.APN.User != "" {
		args = append(args, "user", p.APN.User)
	}
	if p.APN.Password != "" {
		args = append(args, "password", p.APN.Password)
	}
	switch p.APN.Auth {
	case AuthPAP:
		args = append(args, "refuse-chap", "refuse-mschap", "refuse-mschap-v2", "refuse-eap")
	case AuthCHAP:
		args = append(args, "refuse-pap")
	}
	return args
}

// shQuote quotes s for the /bin/sh that pppd runs the connect script with.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Detect finds the modems on this box. A configured port overrides
// detection. Modems that never answer come back as *FaultyModemError.
func Detect(ctx context.Context, opts DetectOptions) ([]Device, error) {
	return detect(ctx, opts)
}
