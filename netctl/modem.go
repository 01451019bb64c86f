package netctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"edgebox/internal/config"
	"edgebox/modem"
)

// ModemDriver is what netctl needs of a modem. *modem.Modem is one; tests
// use a fake.
type ModemDriver interface {
	Device() modem.Device
	ProfileName() string
	PPPOnly() bool
	PreferModemAddress() bool
	Events() <-chan modem.Event
	Identity(ctx context.Context) (modem.Identity, error)
	SIM(ctx context.Context) (modem.SIMStatus, error)
	EnterPIN(ctx context.Context, pin string) error
	Registration(ctx context.Context) (modem.Registration, error)
	Signal(ctx context.Context) (modem.Signal, error)
	Connect(ctx context.Context, apn modem.APN) error
	Disconnect(ctx context.Context) error
	Link(ctx context.Context) (modem.LinkStatus, error)
	Address(ctx context.Context) (modem.IPConfig, error)
	RadioOff(ctx context.Context) error
	// RadioOn reads +CFUN? and switches the radio on when it is off.
	RadioOn(ctx context.Context) error
	Reset(ctx context.Context) error
	// SlotReset power-cycles the modem's slot (an error when the board
	// has no reset line for it).
	SlotReset(ctx context.Context) error
	PPP(apn modem.APN) modem.PPPParams
	// Suspend releases the AT port to pppd when PPPParams.SharedATPort is
	// set; until Resume every command fails with modem.ErrSuspended.
	Suspend(ctx context.Context) error
	// Resume takes the AT port back after pppd exited.
	Resume(ctx context.Context) error
	SendSMS(ctx context.Context, number, text string) (modem.SMS, error)
	ListSMS() ([]modem.SMS, error)
	DeleteSMS(id string) error
	Close() error
}

// atCommander is the optional AT passthrough of a driver.
type atCommander interface {
	AT(ctx context.Context, cmd string, timeout time.Duration) ([]string, error)
}

// ModemOpener finds and opens the modem the config describes.
type ModemOpener interface {
	Open(ctx context.Context, cfg config.Modem) (ModemDriver, error)
}

var _ ModemDriver = (*modem.Modem)(nil)

// realModems detects and opens modems with package modem.
type realModems struct {
	smsDir    string
	stateDir  string
	slotReset func() error
	log       *slog.Logger
	// detect and open stand in for modem.Detect and modem.Open in tests
	// (nil: the real ones).
	detect func(context.Context, modem.DetectOptions) ([]modem.Device, error)
	open   func(context.Context, modem.Options) (ModemDriver, error)
}

func (r realModems) Open(ctx context.Context, cfg config.Modem) (ModemDriver, error) {
	if r.detect == nil {
		r.detect = modem.Detect
	}
	var dev modem.Device
	if cfg.Port != "" && cfg.Profile != "" {
		// Both given: nothing to detect.
		if _, err := os.Stat(devPath(cfg.Port)); err != nil {
			return nil, fmt.Errorf("%w: configured port: %v", modem.ErrNoModem, err)
		}
		dev = modem.Device{Port: devPath(cfg.Port), DataPort: devPath(cfg.DataPort), Profile: cfg.Profile, NetIface: cfg.Interface}
		if dev.DataPort != "" {
			if _, err := os.Stat(dev.DataPort); err != nil {
				return nil, fmt.Errorf("%w: configured data port: %v", modem.ErrNoModem, err)
			}
		}
	} else {
		devs, err := r.detect(ctx, modem.DetectOptions{Port: cfg.Port, DataPort: cfg.DataPort, Profile: cfg.Profile, Logger: r.log})
		if err != nil {
			return nil, err
		}
		if len(devs) == 0 {
			return nil, modem.ErrNoModem
		}
		dev = devs[0]
	}
	if err := os.MkdirAll(r.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("modem state directory: %w", err)
	}
	if err := os.Chmod(r.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("modem state directory: %w", err)
	}
	open := r.open
	if open == nil {
		open = func(ctx context.Context, o modem.Options) (ModemDriver, error) {
			m, err := modem.Open(ctx, o)
			if err != nil {
				return nil, err
			}
			return realModem{m}, nil
		}
	}
	return open(ctx, modem.Options{Device: dev, SMSDir: r.smsDir, StateDir: r.stateDir, SlotReset: r.slotReset, Logger: r.log})
}

// devPath makes a configured tty name (ttyUSB0) a /dev path, as
// modem.Detect does with DevRoot /dev.
func devPath(p string) string {
	if p == "" || strings.Contains(p, "/") {
		return p
	}
	return "/dev/" + p
}

// realModem adds the AT passthrough to *modem.Modem.
type realModem struct{ *modem.Modem }

func (m realModem) AT(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	resp, err := m.Engine().Command(ctx, cmd, timeout)
	lines := resp.Lines
	if resp.Final != "" {
		lines = append(lines, resp.Final)
	}
	if !atQueryOnly(cmd) {
		// The engine owns echo, result format, CMEE, CSCS, CMGF: a
		// command that may have changed them is followed by setting them
		// again (a UCS2 character set would break every later dial).
		if rerr := m.RestoreSettings(ctx); rerr != nil {
			slog.Warn("modem settings after AT passthrough", "err", rerr)
		}
	}
	return lines, err
}

// radioOnAfter: unregistered this long, netctl checks that the radio is on
// (someone may have switched it off behind the box's back).
const radioOnAfter = 6 * time.Second

// signalHistoryLen bounds the signal history kept for the API.
const signalHistoryLen = 240

// modemManager drives the modem: find it, PIN, APN, connect, watch, reset.
// Its goroutine (run) owns the driver's lifecycle; mu guards what the API
// and the Service read.
type modemManager struct {
	s   *Service
	log *slog.Logger
	req chan string // "connect", "disconnect", "reset", "reconfig"

	mu        sync.Mutex
	cfg       config.Modem
	drv       ModemDriver
	st        ModemStatus
	adminDown bool
	pinFailed string // the PIN that failed; not sent again
	iface     string // data interface in use
	pppIface  string
	carrier   bool
	deadSince time.Time
	// resetLevel is the next step of doReset's escalation.
	resetLevel int
	cancel     context.CancelFunc
	done       chan struct{}
	// redetectAfter is the wait before detecting a modem that restarts
	// after Open changed a setting (ErrNeedsReset); 0 means 5s.
	redetectAfter time.Duration
	// checkEvery and signalEvery are watch's link check and signal poll
	// intervals (0: 10s and 30s); redialWait is the pause before redialling
	// a call that failed or dropped soon after it came up (0: 10s). Tests
	// shorten them.
	checkEvery, signalEvery, redialWait time.Duration
	// pppAddress waits for pppd's interface address (nil:
	// waitPPPAddress); tests without PPP in the kernel replace it.
	pppAddress func(ctx context.Context, iface string, p *pppdProc, limit time.Duration) (*AddrConfig, error)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (m *modemManager) redetect() time.Duration {
	if m.redetectAfter > 0 {
		return m.redetectAfter
	}
	return 5 * time.Second
}

func (m *modemManager) preferModemAddress() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.drv != nil && m.drv.PreferModemAddress()
}

// setState shows state with errText. The last cause stays shown, with its
// time, through the retries that follow (polls between two failures say
// why it is still not online) until the modem is connected or an admin
// took it down.
func (m *modemManager) setState(state, errText string) {
	m.mu.Lock()
	if m.st.State != state || errText != "" && errText != m.st.Error {
		m.log.Info("modem", "state", state, "err", errText)
	}
	if m.st.State != state {
		m.st.Since = time.Now()
	}
	changed := m.st.State != state
	m.st.State = state
	switch {
	case errText != "":
		if errText != m.st.Error {
			m.st.ErrorTime = time.Now()
		}
		m.st.Error = errText
	case state == ModemConnected || state == ModemDisconnected || state == ModemDisabled:
		m.st.Error, m.st.ErrorTime = "", time.Time{}
	}
	m.mu.Unlock()
	if changed {
		m.gateUplink(state)
	}
}

// modemOffline: states in which an opened modem surely carries no data,
// whatever its data interface shows. A hung modem (not-responding) may
// still carry traffic, and without a modem (absent, opening) there is
// nobody to ask: those are left to the link and the health probes.
func modemOffline(state string) bool {
	switch state {
	case ModemSIM, ModemRegistering, ModemConnecting, ModemDisconnected:
		return true
	}
	return false
}

// gateUplink keeps the modem uplink from counting as healthy while the
// modem is surely not connected.
func (m *modemManager) gateUplink(state string) {
	offline := modemOffline(state)
	s := m.s
	if s == nil {
		return
	}
	s.mu.Lock()
	u := s.uplinkLocked("modem")
	if u == nil || u.offline == offline {
		s.mu.Unlock()
		return
	}
	u.offline = offline
	s.mu.Unlock()
	s.wake()
}

func (m *modemManager) status() ModemStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	st.SignalHistory = slices.Clone(m.st.SignalHistory)
	st.APN = m.cfg.APN
	return st
}

func (m *modemManager) driver() (ModemDriver, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drv == nil {
		return nil, fmt.Errorf("no modem (state %s)", m.st.State)
	}
	return m.drv, nil
}

func (m *modemManager) request(r string) {
	select {
	case m.req <- r:
	default:
	}
}

// configureModemLocked starts, stops or reconfigures the modem manager.
func (s *Service) configureModemLocked(old, cfg config.Network) {
	enabled := cfg.Modem.Enabled && slices.Contains(cfg.Uplinks, "modem")
	if !enabled {
		if s.modem != nil {
			m := s.modem
			s.modem = nil
			go m.stop()
		}
		return
	}
	if s.modem == nil {
		m := &modemManager{s: s, log: s.log.With("part", "modem"), req: make(chan string, 4), cfg: cfg.Modem, done: make(chan struct{})}
		m.st.State = ModemAbsent
		ctx, cancel := context.WithCancel(s.ctx)
		m.cancel = cancel
		s.modem = m
		go m.run(ctx)
		return
	}
	m := s.modem
	m.mu.Lock()
	changed := !reflect.DeepEqual(m.cfg, cfg.Modem)
	if m.cfg.PIN != cfg.Modem.PIN {
		m.pinFailed = ""
	}
	m.cfg = cfg.Modem
	m.mu.Unlock()
	if changed {
		m.request("reconfig")
	}
	if u := s.uplinkLocked("modem"); u != nil {
		u.offline = modemOffline(m.status().State)
	}
	// A rebuilt modem uplink needs the interface the manager found.
	if u := s.uplinkLocked("modem"); u != nil && u.Iface == "" && m.currentIface() != "" {
		u.Iface = m.currentIface()
		s.attachLocked(u)
	}
}

func (m *modemManager) currentIface() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pppIface != "" {
		return m.pppIface
	}
	return m.iface
}

func (s *Service) uplinkLocked(name string) *Uplink {
	for _, u := range s.uplinks {
		if u.Name == name {
			return u
		}
	}
	return nil
}

func (m *modemManager) stop() {
	m.cancel()
	<-m.done
}

// linkEvent notes the carrier of the modem's data interface (s.mu held).
func (m *modemManager) linkEvent(name string, exists, carrier bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if name == m.iface || name == m.pppIface {
		m.carrier = exists && carrier
	}
}

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

// run is the manager's goroutine.
func (m *modemManager) run(ctx context.Context) {
	defer close(m.done)
	wait := 2 * time.Second
	for ctx.Err() == nil {
		m.mu.Lock()
		cfg := m.cfg
		m.mu.Unlock()
		m.setState(ModemOpening, "")
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		drv, err := m.s.opts.Modems.Open(octx, cfg)
		cancel()
		if err != nil {
			var faulty *modem.FaultyModemError
			switch {
			case errors.As(err, &faulty):
				m.setState(ModemFaulty, err.Error())
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
				m.setState(ModemAbsent, "no modem found; check that the card is seated")
			default:
				m.setState(ModemAbsent, err.Error())
			}
			if !sleepOrReq(ctx, m.req, wait) {
				break
			}
			wait = min(wait*2, time.Minute)
			continue
		}
		wait = 2 * time.Second
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
	m.setState(ModemDisabled, "")
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

// setIface points the modem uplink at the data interface.
func (m *modemManager) setIface(iface string) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.uplinkLocked("modem")
	if u == nil || u.Iface == iface {
		return
	}
	if u.Iface != "" {
		s.stopUplinkLocked(u)
	}
	u.Iface = iface
	s.attachLocked(u)
	s.applyFirewallLocked()
}

// pppDown takes the modem uplink down when pppd's call ended: pppd removed
// ppp0 with its address, so the uplink has neither carrier nor address
// until the next call configures it again.
func (m *modemManager) pppDown() {
	s := m.s
	s.mu.Lock()
	if u := s.uplinkLocked("modem"); u != nil && u.Iface == pppIface {
		u.exists, u.carrier = false, false
		if u.addr != nil {
			s.clearAddrLocked(u)
		}
	}
	m.mu.Lock()
	m.carrier = false
	m.mu.Unlock()
	s.mu.Unlock()
	s.wake()
}

// setStaticAddr programs the address the modem reported.
func (m *modemManager) setStaticAddr(c *AddrConfig) {
	s := m.s
	s.mu.Lock()
	if u := s.uplinkLocked("modem"); u != nil && u.Iface != "" {
		if u.stopDHCP != nil {
			// The profile prefers the modem's address: no DHCP beside it.
			u.stopDHCP()
			u.stopDHCP, u.dhcp = nil, nil
		}
		s.setAddrLocked(u, c)
	}
	s.mu.Unlock()
	s.wake()
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

// watch returns why the connection ended: "disconnect", "reconfig",
// "reset", "dropped" (the modem reported the link down, or pppExited
// closed: pppd ended the call) or "closed" (events channel closed).
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
			if dropped := m.event(ev); dropped {
				if ev.Time.Before(upSince) {
					m.log.Debug("modem event from before the link came up", "kind", ev.Kind)
					continue
				}
				m.log.Warn("modem connection dropped; redialling")
				return "dropped"
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
		case <-sig.C:
			m.pollSignal(ctx, drv)
		case <-check.C:
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			ls, err := drv.Link(c)
			cancel()
			if err != nil && !errors.Is(err, modem.ErrSuspended) && !errors.Is(err, modem.ErrPPPOnly) {
				m.log.Debug("modem link check", "err", err)
				if modemSilent(err) {
					// A hung modem is not shown as connected; its
					// engine reopens and resets it, and the reset
					// event ends this watch.
					m.setState(ModemNotResponding, sayModemError(err))
				}
			}
			if err == nil {
				if m.status().State == ModemNotResponding {
					m.setState(ModemConnected, "")
				}
				m.mu.Lock()
				m.st.Link = &ls
				m.mu.Unlock()
				if !ls.Connected && !ls.Connecting {
					m.log.Warn("modem reports the connection down; redialling")
					return "dropped"
				}
			}
		}
	}
}

// event records an unsolicited change; true when the data link dropped.
func (m *modemManager) event(ev modem.Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch ev.Kind {
	case modem.EventRegistration:
		m.st.Registration = ev.Registration
	case modem.EventSIM:
		m.st.SIM = ev.SIM
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
	m.st.SignalHistory = append(m.st.SignalHistory, SignalSample{Time: t, Signal: sg})
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

// connect and disconnect are the API's.
func (m *modemManager) connect() {
	m.mu.Lock()
	m.adminDown = false
	m.mu.Unlock()
	m.request("connect")
}

func (m *modemManager) disconnect() {
	m.mu.Lock()
	m.adminDown = true
	m.mu.Unlock()
	m.request("disconnect")
}

// shutdown takes the data link down, then switches the radio off
// (Huawei +CFUN=0, Ericsson +CFUN=4: the profile knows which).
func (m *modemManager) shutdown() {
	m.cancel()
	<-m.done
}

// powerDown is the modem's last act: link down, then radio off.
func (m *modemManager) powerDown(drv ModemDriver) {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := drv.Disconnect(c); err != nil {
		m.log.Warn("modem disconnect at shutdown", "err", err)
	}
	m.mu.Lock()
	ifaces := []string{m.iface, m.pppIface}
	m.mu.Unlock()
	for _, i := range ifaces {
		if i != "" {
			linkDown(i)
		}
	}
	if err := drv.RadioOff(c); err != nil {
		m.log.Warn("modem radio off at shutdown", "err", err)
		return
	}
	m.log.Info("modem radio off")
}

// pppdBinary is the pppd that startPPPD runs (tests replace it).
var pppdBinary = "pppd"

// startPPPD runs pppd for a PPP-only modem. The APN password never goes on
// pppd's command line (any local user can read /proc/PID/cmdline): it is
// written to a 0600 options file in secretDir that pppd reads with "file";
// the file is removed when pppd exits. The logged command line is redacted.
func startPPPD(p modem.PPPParams, secretDir string, log *slog.Logger) (*pppdProc, error) {
	args := modem.PPPDArgs(p)
	if len(args) == 0 {
		return nil, errors.New("the modem profile gives no pppd arguments")
	}
	// netctl owns the default route and resolv.conf: pppd must not touch them.
	args = append(args, "nodefaultroute", "unit", "0")
	if i := slices.Index(args, "replacedefaultroute"); i >= 0 {
		args = slices.Delete(args, i, i+1)
	}
	args, secrets := splitSecretOptions(args)
	var secretFile string
	if len(secrets) > 0 {
		if err := os.MkdirAll(secretDir, 0o700); err != nil {
			return nil, fmt.Errorf("pppd options: %w", err)
		}
		f, err := os.CreateTemp(secretDir, "pppd-secret-*")
		if err != nil {
			return nil, fmt.Errorf("pppd options: %w", err)
		}
		secretFile = f.Name()
		_, werr := f.WriteString(pppdOptionsFile(secrets))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(secretFile)
			return nil, fmt.Errorf("pppd options: %w", werr)
		}
		args = append(args, "file", secretFile)
	}
	cmd := exec.Command(pppdBinary, args...)
	// With nodetach pppd also writes its messages to stdout: they go to
	// netctl's log and tell the DNS servers the peer gave (usepeerdns).
	out := &pppdOutput{w: os.Stderr}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		if secretFile != "" {
			os.Remove(secretFile)
		}
		return nil, err
	}
	log.Info("pppd started", "args", strings.Join(RedactArgv(args), " "))
	proc := &pppdProc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		if secretFile != "" {
			os.Remove(secretFile)
		}
		close(proc.done)
	}()
	return proc, nil
}

// pppdProc is a running pppd.
type pppdProc struct {
	cmd  *exec.Cmd
	out  *pppdOutput
	done chan struct{} // closed when pppd has exited and been reaped
	err  error         // cmd.Wait's, set before done closes
}

// pppdOutput passes pppd's messages on to w and keeps what IPCP
// negotiated. pppd 2.4.9 prints (ipcp_up):
//
//	local  IP address 10.66.0.2
//	remote IP address 10.66.0.1
//	primary   DNS address 10.66.0.53
//	secondary DNS address 10.66.0.54
type pppdOutput struct {
	w io.Writer

	mu             sync.Mutex
	partial        []byte
	local, remote  netip.Addr
	primary, secon netip.Addr
}

func (o *pppdOutput) Write(b []byte) (int, error) {
	o.w.Write(b)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, b...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		if key, a, ok := parsePPPDLine(string(o.partial[:i])); ok {
			switch key {
			case "local":
				o.local = a
			case "remote":
				o.remote = a
			case "primary":
				o.primary = a
			case "secondary":
				o.secon = a
			}
		}
		o.partial = o.partial[i+1:]
	}
	if len(o.partial) > 4096 { // no line is that long
		o.partial = o.partial[:0]
	}
	return len(b), nil
}

// dns is the peer's DNS servers, primary first.
func (o *pppdOutput) dns() []netip.Addr {
	o.mu.Lock()
	defer o.mu.Unlock()
	var d []netip.Addr
	for _, a := range []netip.Addr{o.primary, o.secon} {
		if a.IsValid() {
			d = append(d, a)
		}
	}
	return d
}

// parsePPPDLine reads one of pppd's IPCP notices; key is local, remote,
// primary or secondary. A syslog-style prefix before the text is allowed.
func parsePPPDLine(line string) (key string, addr netip.Addr, ok bool) {
	f := strings.Fields(line)
	for i := 0; i+3 < len(f); i++ {
		var k string
		switch {
		case (f[i] == "local" || f[i] == "remote") && f[i+1] == "IP" && f[i+2] == "address":
			k = f[i]
		case (f[i] == "primary" || f[i] == "secondary") && f[i+1] == "DNS" && f[i+2] == "address":
			k = f[i]
		default:
			continue
		}
		a, err := netip.ParseAddr(f[i+3])
		if err != nil || !a.Is4() || i+4 != len(f) {
			return "", netip.Addr{}, false
		}
		return k, a, true
	}
	return "", netip.Addr{}, false
}

// secretOptions are pppd/chat words whose next word is a secret.
var secretOptions = []string{"password", "pin", "--pin", "-pin"}

// splitSecretOptions takes "password X" pairs out of a pppd argv.
func splitSecretOptions(args []string) (public, secret []string) {
	for i := 0; i < len(args); i++ {
		if args[i] == "password" && i+1 < len(args) {
			secret = append(secret, args[i], args[i+1])
			i++
			continue
		}
		public = append(public, args[i])
	}
	return public, secret
}

// pppdOptionsFile renders option words for pppd's "file" option: each
// word double-quoted with backslash escapes, one option per line.
func pppdOptionsFile(words []string) string {
	var b strings.Builder
	for i := 0; i < len(words); i += 2 {
		b.WriteString(words[i])
		if i+1 < len(words) {
			b.WriteString(" \"")
			for _, r := range words[i+1] {
				if r == '"' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteString("\"")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// cpinRe finds a PIN or PUK in an AT command (AT+CPIN="1234", AT+CLCK=...,
// AT+CPWD=...) embedded in any word, e.g. a chat script.
var cpinRe = regexp.MustCompile(`(?i)(\+C(?:PIN|LCK|PWD)[=:]\s*)[^\s']*`)

// RedactArgv returns a copy of argv fit for logs: the word after
// "password" or a PIN option becomes "***", and PINs in AT commands inside
// any word (chat scripts) are hidden.
func RedactArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if i > 0 && slices.Contains(secretOptions, strings.ToLower(argv[i-1])) {
			out[i] = "***"
			continue
		}
		out[i] = cpinRe.ReplaceAllString(a, "${1}***")
	}
	return out
}

// pppIface is the interface pppd creates with "unit 0".
const pppIface = "ppp0"

// waitPPPAddress waits for pppd to configure iface and returns its
// address and the peer's DNS servers as an uplink configuration
// (point-to-point: no gateway).
func waitPPPAddress(ctx context.Context, iface string, p *pppdProc, limit time.Duration) (*AddrConfig, error) {
	out := p.out
	end := time.Now().Add(limit)
	var addrSince time.Time
	for time.Now().Before(end) {
		if p, ok := linkIPv4(iface); ok {
			// pppd prints the DNS notices around the moment it sets the
			// address: give them a moment (a peer may send none).
			if addrSince.IsZero() {
				addrSince = time.Now()
			}
			if dns := out.dns(); len(dns) > 0 || time.Since(addrSince) > 3*time.Second {
				return &AddrConfig{Address: p, DNS: dns}, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.done:
			return nil, fmt.Errorf("pppd exited before %s came up: %v", iface, p.err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("pppd did not bring %s up within %v", iface, limit)
}

// pppdStopTimeout is how long stopPPPD waits after SIGINT (pppd hangs up,
// runs its disconnect script and exits) before SIGKILL.
var pppdStopTimeout = 15 * time.Second

// stopPPPD ends pppd and returns once it has exited: after SIGINT, and
// SIGKILL when it is still there after pppdStopTimeout. Only then is the
// tty free for the engine (shared AT port) or the next call.
func stopPPPD(p *pppdProc, log *slog.Logger) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(pppdStopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	log.Warn("pppd did not exit after SIGINT; killing it", "pid", p.cmd.Process.Pid, "after", pppdStopTimeout)
	p.cmd.Process.Kill()
	t.Reset(pppdStopTimeout)
	select {
	case <-p.done:
	case <-t.C:
		// Unkillable (stuck in the kernel): nothing more to do here.
		log.Error("pppd still running after SIGKILL", "pid", p.cmd.Process.Pid)
	}
}
