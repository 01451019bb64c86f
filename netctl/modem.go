package netctl

// The modem manager: its state, what the API and the Service read of it,
// and the modem uplink it points at the data interface.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/config"
)

// modemManager drives the modem: find it, PIN, APN, connect, watch, reset.
// Its goroutine (run) owns the driver's lifecycle; mu guards what the API
// and the Service read.
type modemManager struct {
	s   *Service
	log *slog.Logger
	req chan string // "connect", "disconnect", "reset", "reconfig"
	// voiceSlot is set on a voice-only modem (network.modem.voice_modems):
	// its slot. Such a manager opens, unlocks and registers its modem but
	// never connects data nor touches the modem uplink (modem_voice.go).
	voiceSlot string

	mu        sync.Mutex
	cfg       config.Modem
	drv       ModemDriver
	st        ModemStatus
	adminDown bool
	pinFailed string // the PIN that failed; not sent again
	// pinFailedICCID is the SIM that refused it: another SIM (swapped
	// in) is given the configured PIN once more.
	pinFailedICCID string
	// removed: the modem's USB device left the system; until a modem
	// opens again the status says so (modem_removed.go).
	removed bool
	// removedAt: when the USB device went; removedGrace: how long a
	// card is awaited before it is called removed (0: 20 s; tests
	// shorten it).
	removedAt    time.Time
	removedGrace time.Duration
	// atPortOnly: at the last look, only the AT port was gone (the
	// network interface stayed).
	atPortOnly bool
	// modemDNS: the DNS servers the modem reported for its connection
	// (modem_dns.go).
	modemDNS  []netip.Addr
	iface     string // data interface in use
	pppIface  string
	carrier   bool
	deadSince time.Time
	// noIfaceSince: the opened modem has had no network interface since
	// (zero: it has one); the manager's goroutine alone uses it.
	noIfaceSince time.Time
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
	// deniedRetry: how long a denied card waits before its radio is
	// cycled to register afresh (0: 5 minutes; tests shorten it).
	deniedRetry time.Duration
	// pppAddress waits for pppd's interface address (nil:
	// waitPPPAddress); tests without PPP in the kernel replace it.
	pppAddress func(ctx context.Context, iface string, p *pppdProc, limit time.Duration) (*addrConfig, error)
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
	case state == ModemConnected || state == ModemDisconnected || state == netapi.ModemDisabled || state == netapi.ModemRegistered:
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
	if s == nil || m.voiceSlot != "" {
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
	s.configureVoiceModemsLocked(cfg)
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
		m.st.State = netapi.ModemAbsent
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
	// A rebuilt modem uplink needs the interface the manager found, and
	// the DNS servers the modem reported.
	if u := s.uplinkLocked("modem"); u != nil && u.Iface == "" && m.currentIface() != "" {
		u.Iface = m.currentIface()
		s.attachLocked(u)
	}
	if u := s.uplinkLocked("modem"); u != nil && u.modemDNS == nil {
		m.mu.Lock()
		u.modemDNS = slices.Clone(m.modemDNS)
		m.mu.Unlock()
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

func (s *Service) uplinkLocked(name string) *uplink {
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

// setStaticAddr programs the address the modem reported.
func (m *modemManager) setStaticAddr(c *addrConfig) {
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
