// Package openvpn keeps the box's OpenVPN tunnel to the admins up. It is a
// library the netctl service embeds: netctl knows when an uplink is up, so
// it owns the openvpn process; this package imports and checks profiles,
// runs Debian's openvpn binary under supervision, drives it through its
// management interface (a root-only unix socket) and reports its state.
//
// Wiring in netctl (the whole of it):
//
//	vpn, err := openvpn.New(openvpn.Options{
//		Interface: cfg.VPN.Interface,           // "tun0": matches the firewall's default "tun*"
//		Logger:    log.With("component", "openvpn"),
//		OnChange:  func(st openvpn.Status) { kickFirewall() }, // optional
//	})
//	if err != nil { return err }           // only for a bad Interface name
//	vpn.SetEnabled(cfg.VPN.Enabled)
//	vpn.Routes(mux)                       // serves /v1/vpn/... on netctl.sock
//	vpnDone := make(chan error, 1)
//	go func() { vpnDone <- vpn.Run(ctx) }()
//	// from the uplink monitor, on every change of the active uplink:
//	vpn.SetUplink(true, "wwan0")          // or SetUplink(false, "") when none is up
//	// on SIGHUP, after re-reading config.json:
//	vpn.SetEnabled(cfg.VPN.Enabled)       // a new Interface name needs a restart of netctl
//	// on shutdown: cancel ctx, then <-vpnDone (Run stops openvpn, at most ~5 s)
//
// The firewall lets the web UI, API and SSH answer on Status().Interface
// (known before the tunnel is up: openvpn is told to use that name). If
// netctl dies, openvpn gets SIGTERM from the kernel (Pdeathsig). Clients
// (edgectl, web) use NewClient() from api.go.
package openvpn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/paths"
)

// Options configures a Manager. Zero fields take the defaults noted.
type Options struct {
	// Binary is the openvpn program (/usr/sbin/openvpn).
	Binary string
	// Command is put before Binary, e.g. {"ip", "netns", "exec", "ns1"}
	// in tests that run the tunnel inside a network namespace.
	Command []string
	// ProfileDir holds profile.ovpn and credentials.json, mode 0700
	// (paths.SecretsDir()/vpn).
	ProfileDir string
	// RunDir holds the management sockets, mode 0700 (paths.RunDir()/openvpn).
	RunDir string
	// Interface is the tun device name (tun0).
	Interface string
	// ExtraArgs are added after the profile (tests shorten timers here).
	ExtraArgs []string
	// ByteCountEvery is how often openvpn reports traffic (5s).
	ByteCountEvery time.Duration
	// MinBackoff and MaxBackoff bound the wait before restarting an
	// openvpn that exited (1s, 60s).
	MinBackoff, MaxBackoff time.Duration
	// CheckTimeout bounds the dry run of a new profile (20s).
	CheckTimeout time.Duration
	// ProxyTimeout bounds the wait for an HTTP proxy's answer to CONNECT
	// (30s); openvpn itself would wait for ever.
	ProxyTimeout time.Duration
	// ReconnectTimeout is how long openvpn has to act on a reconnect
	// before it is restarted instead (10s).
	ReconnectTimeout time.Duration
	// IdleProbeAfter is how long nothing may come through a tunnel whose
	// server pushed no keepalive before the box pings the server's tunnel
	// address (60s), and ProbeEvery how often it pings then (5s);
	// Probe sends one ping (PingOnce). See deadpeer.go.
	IdleProbeAfter, ProbeEvery time.Duration
	Probe                      ProbeFunc
	// Logger receives openvpn's output and the manager's decisions.
	Logger *slog.Logger
	// OnChange, if set, is called (from the manager's goroutine, so it
	// must not block) whenever the tunnel's state changes.
	OnChange func(Status)
}

func (o *Options) defaults() {
	if o.Binary == "" {
		o.Binary = "/usr/sbin/openvpn"
	}
	if o.ProfileDir == "" {
		o.ProfileDir = filepath.Join(paths.SecretsDir(), "vpn")
	}
	if o.RunDir == "" {
		o.RunDir = filepath.Join(paths.RunDir(), "openvpn")
	}
	if o.Interface == "" {
		o.Interface = "tun0"
	}
	if o.ByteCountEvery <= 0 {
		o.ByteCountEvery = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 60 * time.Second
		if o.MaxBackoff < o.MinBackoff {
			o.MaxBackoff = o.MinBackoff
		}
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 20 * time.Second
	}
	if o.ProxyTimeout <= 0 {
		o.ProxyTimeout = 30 * time.Second
	}
	if o.ReconnectTimeout <= 0 {
		o.ReconnectTimeout = 10 * time.Second
	}
	if o.IdleProbeAfter <= 0 {
		o.IdleProbeAfter = 60 * time.Second
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = 5 * time.Second
	}
	if o.Probe == nil {
		o.Probe = PingOnce
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// States and Status live in the leaf package vpnapi (aliases in api.go).

// Manager runs and watches openvpn. Run owns the process; the other
// methods are safe from any goroutine.
type Manager struct {
	opt   Options
	log   *slog.Logger
	store store

	importMu sync.Mutex // one import or credentials change at a time

	mu      sync.Mutex // guards want and st
	want    desired
	st      Status
	running bool

	kick chan struct{}
}

// desired is what callers asked for; Run converges on it.
type desired struct {
	enabled      bool
	uplinkUp     bool
	uplink       string
	profileGen   int
	secretsGen   int
	reconnectGen int
}

// New returns a Manager. It reads the stored profile, if any.
func New(opt Options) (*Manager, error) {
	opt.defaults()
	if len(opt.Interface) > 15 {
		return nil, fmt.Errorf("vpn interface name %q is longer than 15 characters", opt.Interface)
	}
	m := &Manager{
		opt:   opt,
		log:   opt.Logger,
		store: store{dir: opt.ProfileDir},
		kick:  make(chan struct{}, 1),
		want:  desired{enabled: true},
	}
	m.st = Status{State: StateWaitingForUplink, Interface: opt.Interface}
	p, err := m.store.loadProfile()
	if err != nil {
		// A damaged profile must not keep netctl from starting; the admin
		// sees the error and imports a new one.
		m.log.Error("vpn profile unusable", "err", err)
		m.st.LastError = err.Error()
	}
	if p != nil {
		m.st.Profile = &p.Info
	} else {
		m.st.State = StateNoProfile
	}
	sec, err := m.store.loadSecrets()
	if err != nil {
		m.log.Error("vpn credentials unusable", "err", err)
	}
	m.st.HasPassphrase, m.st.HasLogin = sec.Passphrase != "", !sec.loginMissing()
	return m, nil
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// SetUplink tells the manager whether an uplink is up and which. openvpn
// runs only while one is; when the active uplink changes, openvpn is told
// to reconnect at once rather than wait for its ping timeout.
func (m *Manager) SetUplink(up bool, name string) {
	m.mu.Lock()
	if !up {
		name = ""
	}
	m.want.uplinkUp, m.want.uplink = up, name
	m.st.Uplink = name
	m.mu.Unlock()
	m.poke()
}

// SetEnabled switches the tunnel on or off (config vpn.enabled).
func (m *Manager) SetEnabled(on bool) {
	m.mu.Lock()
	m.want.enabled = on
	m.mu.Unlock()
	m.poke()
}

// Reconnect makes openvpn drop and re-establish the tunnel.
func (m *Manager) Reconnect() {
	m.mu.Lock()
	m.want.reconnectGen++
	m.mu.Unlock()
	m.poke()
}

// Status returns a snapshot of the tunnel's state.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	if st.Profile != nil {
		pi := *st.Profile
		st.Profile = &pi
	}
	return st
}

// update changes the status under the lock and tells OnChange.
func (m *Manager) update(f func(*Status)) {
	m.mu.Lock()
	before := m.st
	f(&m.st)
	if m.st.State != StateConnected {
		m.st.DNS = nil // the pushed servers answer only through a live tunnel
	}
	after := m.st
	m.mu.Unlock()
	if m.opt.OnChange != nil && (before.State != after.State || before.TunnelAddress != after.TunnelAddress || before.LastError != after.LastError || !sameDNS(before.DNS, after.DNS)) {
		m.opt.OnChange(after)
	}
}

func (m *Manager) setError(msg string) {
	now := time.Now()
	m.update(func(s *Status) {
		s.LastError = msg
		s.LastErrorAt = &now
	})
}

// Import checks an uploaded profile (a .ovpn, or a tar/zip with its files)
// and, if both the allow-list and a dry run of openvpn accept it, stores it
// and restarts the tunnel with it. On any error the previous profile stays.
func (m *Manager) Import(r io.Reader, filename string) error {
	_, err := m.ImportWithCredentials(r, filename, Credentials{})
	return err
}

// ImportWithCredentials is Import with a key passphrase or login given in
// the same step; a passphrase given here must be right.
func (m *Manager) ImportWithCredentials(r io.Reader, filename string, c Credentials) (ProfileInfo, error) {
	if err := c.Validate(); err != nil {
		return ProfileInfo{}, err
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxUploadSize+1))
	if err != nil {
		return ProfileInfo{}, fmt.Errorf("read upload: %w", err)
	}
	p, err := ParseUpload(data, filename)
	if err != nil {
		return ProfileInfo{}, err
	}
	m.importMu.Lock()
	defer m.importMu.Unlock()
	sec, err := m.store.loadSecrets()
	if err != nil {
		return ProfileInfo{}, err
	}
	if p.Credentials != nil {
		sec.apply(*p.Credentials)
		if p.Credentials.Username != nil && p.Credentials.Password == nil {
			// a login file with the username only: no older password
			// goes with it, and the password is asked for
			sec.Password, sec.AskPassword = "", true
		}
	}
	sec.apply(c)
	p.Info.ImportedAt = time.Now().UTC().Truncate(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), m.opt.CheckTimeout)
	defer cancel()
	if err := m.check(ctx, p, sec, c.Passphrase != nil || (p.Credentials != nil && p.Credentials.Passphrase != nil)); err != nil {
		return ProfileInfo{}, err
	}
	if err := m.store.saveSecrets(sec); err != nil {
		return ProfileInfo{}, err
	}
	if err := m.store.saveProfile(p); err != nil {
		return ProfileInfo{}, err
	}
	m.log.Info("vpn profile imported", "name", p.Info.Name, "remotes", p.Info.Remotes)
	info := p.Info
	m.mu.Lock()
	m.want.profileGen++
	m.want.secretsGen++
	m.st.Profile = &info
	m.st.HasPassphrase, m.st.HasLogin = sec.Passphrase != "", !sec.loginMissing()
	m.mu.Unlock()
	m.poke()
	return info, nil
}

// SetCredentials stores the key passphrase and/or login and hands them to
// a waiting openvpn.
func (m *Manager) SetCredentials(c Credentials) error {
	if err := c.Validate(); err != nil {
		return err
	}
	m.importMu.Lock()
	defer m.importMu.Unlock()
	sec, err := m.store.loadSecrets()
	if err != nil {
		// A damaged file is replaced by what the admin enters now.
		m.log.Warn("replacing unreadable vpn credentials", "err", err)
	}
	sec.apply(c)
	if err := m.store.saveSecrets(sec); err != nil {
		return err
	}
	m.mu.Lock()
	m.want.secretsGen++
	m.st.HasPassphrase, m.st.HasLogin = sec.Passphrase != "", !sec.loginMissing()
	m.mu.Unlock()
	m.poke()
	return nil
}

// session is what the run loop knows about the current openvpn.
type session struct {
	p         *process
	events    <-chan any
	applied   desired
	sec       secrets
	connected bool
	// answered means the server replied during this attempt, to tell
	// "unreachable" from "handshake failed".
	answered   bool
	attemptErr string
	// certExpired is openvpn's warning that the box's own certificate has
	// expired; the server then just lets the handshake time out, and
	// that timeout must be explained by the cause, not as itself.
	certExpired bool
	keyWaiting  bool // a Private Key request is unanswered
	authWaiting bool
	// needsLogin is the profile's auth-user-pass: only then can an
	// AUTH_FAILED be about a password.
	needsLogin bool
	// hasToken: openvpn holds a session token the server pushed
	// (auth-gen-token) and presents it instead of the password, so an
	// AUTH_FAILED now refuses the token (the server restarted, or the
	// token expired), not the stored login: openvpn drops it and logs in
	// again with the password (asking for it again with auth-nocache).
	hasToken bool
	// holdUntil is when openvpn's hold is to be released: it asks for its
	// connect-retry back-off in ">HOLD:Waiting for hold release:N".
	holdUntil time.Time
	// proxyShown is the proxy wait already put in the status.
	proxyShown time.Time
	// noKeyDir: the profile's tls-auth has no key-direction, so the key
	// is used both ways; a server with "tls-auth ta.key 0" then drops
	// every packet unanswered (tlsauth.go).
	noKeyDir bool
	// compLine is the profile's comp-lzo or compress line, named when the
	// server's packets lack the header it makes openvpn expect.
	compLine string
	// connectedAt is when this openvpn last reached CONNECTED: a
	// ping-restart soon after it means nothing passes (ErrNothingPasses).
	connectedAt time.Time
	// endedBy is why the manager stopped this openvpn: its error, or
	// endedByReconnect. What openvpn flushes as it exits must not
	// replace it.
	endedBy string
	// reconnectBy is when a reconnect asked for must have shown; openvpn
	// cannot hear the management interface while it waits on a proxy.
	reconnectBy time.Time
	// peer watches for a dead server that pushed no keepalive (deadpeer.go).
	peer peerWatch
}

// Run supervises openvpn until ctx ends, then stops it. Call it once.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("openvpn manager already running")
	}
	m.running = true
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.running = false
		m.mu.Unlock()
	}()
	if err := os.MkdirAll(m.opt.RunDir, 0o700); err != nil {
		return fmt.Errorf("vpn run folder: %w", err)
	}
	os.Chmod(m.opt.RunDir, 0o700)
	l := &loop{m: m, backoff: m.opt.MinBackoff, lastSecs: -1, lastProf: -1}
	defer func() {
		l.stop(StateStopped)
		m.update(func(st *Status) { st.State, st.Detail = StateStopped, "" })
	}()
	for {
		timer := l.converge()
		var (
			timerC <-chan time.Time
			exited <-chan struct{}
			events <-chan any
		)
		if timer != nil {
			timerC = timer.C
		}
		if l.s != nil {
			exited, events = l.s.p.exited, l.s.events
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case <-m.kick:
		case <-timerC:
		case ev, ok := <-events:
			if !ok {
				// The management connection broke: without it openvpn
				// cannot be driven, so end it and start afresh.
				m.log.Warn("openvpn management connection lost")
				l.s.events = nil
				l.s.p.stop()
				break
			}
			m.handle(l.s, ev, &l.keyBad, &l.authBad)
			if l.s.connected {
				l.backoff = m.opt.MinBackoff
			}
		case <-exited:
			l.exited()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// loop is the state of Run; only Run's goroutine touches it.
type loop struct {
	m       *Manager
	s       *session
	backoff time.Duration
	retryAt time.Time
	// keyBad and authBad mean openvpn refused the stored secret; it is
	// not offered again until the admin enters a new one.
	keyBad, authBad    bool
	lastSecs, lastProf int
	lastUplink         string
}

func (l *loop) stop(state string) {
	if l.s == nil {
		return
	}
	l.s.p.stop()
	l.s = nil
	l.m.update(func(st *Status) {
		st.State, st.Detail, st.PID = state, "", 0
		st.TunnelAddress, st.TunnelAddress6, st.Remote, st.ConnectedSince = "", "", "", nil
	})
}

// converge moves towards what callers asked for. It returns a timer when a
// restart is due later.
func (l *loop) converge() *time.Timer {
	m := l.m
	m.mu.Lock()
	want := m.want
	m.mu.Unlock()
	hasProfile := fileExists(m.store.profilePath())
	if want.secretsGen != l.lastSecs || want.profileGen != l.lastProf {
		// New secrets or a new profile deserve a fresh try.
		l.keyBad, l.authBad = false, false
		l.lastSecs, l.lastProf = want.secretsGen, want.profileGen
	}
	if want.uplink != l.lastUplink {
		// A new uplink is a new chance: do not sit out a backoff earned
		// on the old one.
		l.lastUplink = want.uplink
		l.backoff, l.retryAt = m.opt.MinBackoff, time.Time{}
	}
	if s := l.s; s != nil {
		switch {
		case !want.enabled || !want.uplinkUp || !hasProfile:
			m.log.Info("stopping openvpn", "enabled", want.enabled, "uplink_up", want.uplinkUp)
			l.stop(StateWaitingForUplink)
		case want.profileGen != s.applied.profileGen:
			m.log.Info("restarting openvpn with the new profile")
			l.stop(StateStarting)
			l.backoff, l.retryAt = m.opt.MinBackoff, time.Time{}
		}
	}
	if s := l.s; s != nil {
		if want.uplink != s.applied.uplink || want.reconnectGen != s.applied.reconnectGen {
			m.log.Info("reconnecting openvpn", "uplink", want.uplink, "was", s.applied.uplink)
			s.applied.uplink, s.applied.reconnectGen = want.uplink, want.reconnectGen
			if !s.holdUntil.IsZero() {
				// Sitting out a back-off: the next attempt is the reconnect.
				m.releaseHold(s)
			} else {
				if err := s.p.mgmt.send("signal SIGUSR1"); err != nil {
					m.log.Warn("reconnect", "err", err)
				}
				s.reconnectBy = time.Now().Add(m.opt.ReconnectTimeout)
				if since, _ := s.p.out.proxyWait(); !since.IsZero() {
					s.reconnectBy = time.Now() // it cannot hear the signal
				}
			}
		}
		if l.sessionDue() {
			return nil // openvpn is being stopped; its exit restarts it
		}
		if want.secretsGen != s.applied.secretsGen {
			s.applied.secretsGen = want.secretsGen
			sec, err := m.store.loadSecrets()
			if err != nil {
				m.log.Error("vpn credentials", "err", err)
			}
			s.sec = sec
			if s.keyWaiting {
				m.answerKey(s, l.keyBad)
			}
			if s.authWaiting {
				m.answerAuth(s, l.authBad)
			}
		}
		return l.sessionTimer()
	}
	switch {
	case !want.enabled:
		m.update(func(st *Status) { st.State, st.Detail = StateDisabled, "" })
		return nil
	case !hasProfile:
		m.update(func(st *Status) { st.State, st.Detail = StateNoProfile, "" })
		return nil
	case !want.uplinkUp:
		m.update(func(st *Status) { st.State, st.Detail = StateWaitingForUplink, "" })
		return nil
	case time.Now().Before(l.retryAt):
		return time.NewTimer(time.Until(l.retryAt))
	}
	s, err := m.startSession(want)
	if err != nil {
		m.log.Error("openvpn did not start", "err", err)
		m.setError(err.Error())
		l.scheduleRestart("openvpn did not start")
		return time.NewTimer(time.Until(l.retryAt))
	}
	l.s = s
	return nil
}

// endedByReconnect marks an openvpn restarted for a reconnect.
const endedByReconnect = "reconnect"

// sessionDue acts on the running openvpn's deadlines that have passed: a
// hold to release, a proxy that never answered, a reconnect openvpn did not
// act on. It reports whether openvpn was stopped.
func (l *loop) sessionDue() bool {
	m, s, now := l.m, l.s, time.Now()
	if !s.holdUntil.IsZero() && !now.Before(s.holdUntil) {
		m.releaseHold(s)
	}
	since, target := s.p.out.proxyWait()
	if !since.IsZero() && since != s.proxyShown {
		s.proxyShown = since
		m.update(func(st *Status) {
			st.Detail = fmt.Sprintf("waiting for the HTTP proxy to answer CONNECT %s (since %s)", target, since.UTC().Format("15:04:05 UTC"))
		})
	}
	if t, after := s.p.out.takeProxyFailure(); t != "" {
		// openvpn's own server-poll-timeout ended the wait first; it
		// tries again by itself, but the installer must read why.
		m.setError(proxySilentWords(t, after))
	}
	if !since.IsZero() && now.Sub(since) >= m.opt.ProxyTimeout {
		msg := proxySilentWords(target, m.opt.ProxyTimeout)
		m.log.Warn("http proxy does not answer CONNECT; restarting openvpn", "target", target)
		s.endedBy = msg
		m.setError(msg)
		s.p.stop()
		return true
	}
	if !s.reconnectBy.IsZero() && !now.Before(s.reconnectBy) {
		m.log.Warn("openvpn did not act on the reconnect; restarting it")
		s.reconnectBy = time.Time{}
		s.endedBy = endedByReconnect
		l.backoff = m.opt.MinBackoff
		s.p.stop()
		return true
	}
	return l.watchPeer(now)
}

// sessionTimer returns a timer for the running openvpn's next deadline.
func (l *loop) sessionTimer() *time.Timer {
	s := l.s
	var next time.Time
	for _, t := range []time.Time{s.holdUntil, s.reconnectBy, s.peer.due(l.m.opt.IdleProbeAfter)} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if since, _ := s.p.out.proxyWait(); !since.IsZero() {
		if t := since.Add(l.m.opt.ProxyTimeout); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if next.IsZero() {
		return nil
	}
	return time.NewTimer(max(time.Until(next), 0))
}

func (l *loop) scheduleRestart(why string) {
	l.retryAt = time.Now().Add(l.backoff)
	wait := l.backoff
	l.m.update(func(st *Status) {
		st.State, st.Detail, st.PID = StateRestarting, fmt.Sprintf("%s; restarting in %s", why, wait), 0
		st.TunnelAddress, st.TunnelAddress6, st.Remote, st.ConnectedSince = "", "", "", nil
		st.Restarts++
	})
	l.backoff = min(l.backoff*2, l.m.opt.MaxBackoff)
}

// exited handles the end of the openvpn process.
func (l *loop) exited() {
	m, s := l.m, l.s
	// Its last notifications (>FATAL) may still be queued.
	for drained := false; !drained && s.events != nil; {
		select {
		case ev, ok := <-s.events:
			if !ok {
				drained = true
				break
			}
			m.handle(s, ev, &l.keyBad, &l.authBad)
		case <-time.After(200 * time.Millisecond):
			drained = true
		}
	}
	reason := s.p.exitReason()
	ran := time.Since(s.p.started)
	m.log.Warn("openvpn exited", "reason", reason, "ran", ran.Round(time.Second))
	if ran > 5*time.Minute || s.connected {
		l.backoff = m.opt.MinBackoff
	}
	switch {
	case s.endedBy == endedByReconnect: // not an error: the last one stays
	case s.endedBy != "":
		m.setError(s.endedBy)
	case s.attemptErr == "":
		m.setError(reason)
	}
	s.p.mgmt.close()
	l.s = nil
	l.scheduleRestart("openvpn exited")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startSession starts openvpn with the stored profile and releases its hold.
func (m *Manager) startSession(want desired) (*session, error) {
	prof, err := m.store.loadProfile()
	if err != nil {
		return nil, err
	}
	if prof == nil {
		return nil, errNoProfile
	}
	sec, err := m.store.loadSecrets()
	if err != nil {
		m.log.Error("vpn credentials", "err", err)
	}
	sock := filepath.Join(m.opt.RunDir, "mgmt.sock")
	argv := append(append([]string{}, m.opt.Command...), m.opt.Binary)
	argv = append(argv, openvpnArgs(&m.opt, m.store.profilePath(), sock, prof.Info.DevType)...)
	m.update(func(st *Status) {
		st.State, st.Detail = StateStarting, ""
		st.BytesIn, st.BytesOut = 0, 0
		st.Profile = &prof.Info
	})
	p, err := start(procSpec{argv: argv, sock: sock, log: m.log, onProxy: m.poke})
	if err != nil {
		return nil, err
	}
	s := &session{p: p, events: p.mgmt.events, applied: want, sec: sec, needsLogin: prof.Info.NeedsUserPass,
		noKeyDir: tlsAuthWithoutDirection(prof.Text), compLine: compressionLine(prof.Text)}
	s.peer.ownDNS = profileDNS(prof.Text)
	s.peer.dns = s.peer.ownDNS.filtersOnly()
	for _, c := range []string{"log on", "state on", "bytecount " + strconv.Itoa(max(1, int(m.opt.ByteCountEvery/time.Second))), "hold release"} {
		if err := p.mgmt.send(c); err != nil {
			p.stop()
			return nil, fmt.Errorf("management: %w", err)
		}
	}
	m.update(func(st *Status) { st.PID = p.cmd.Process.Pid })
	m.log.Info("openvpn started", "pid", p.cmd.Process.Pid, "uplink", want.uplink)
	return s, nil
}

// handle acts on one management notification.
func (m *Manager) handle(s *session, ev any, keyBad, authBad *bool) {
	switch e := ev.(type) {
	case HoldEvent:
		// openvpn holds again before every new attempt and says how long
		// its connect-retry back-off wants it to wait. Releasing at once
		// threw that away: thousands of attempts a minute against a server
		// that refuses. The wait is honoured; a reconnect ends it early.
		wait := holdWait(e.Msg)
		if wait <= 0 {
			s.p.mgmt.send("hold release")
			break
		}
		s.holdUntil = time.Now().Add(wait)
		m.log.Info("openvpn waits before its next attempt", "wait", wait)
		m.update(func(st *Status) { st.Detail = fmt.Sprintf("next attempt in %s", wait) })
	case StateEvent:
		s.reconnectBy = time.Time{} // openvpn is listening
		if e.Name == "RECONNECTING" && strings.Contains(e.Detail, "auth-token") {
			s.hasToken = false // openvpn dropped the refused token
		}
		m.onState(s, e)
	case AuthTokenEvent:
		s.hasToken = true
	case ByteCountEvent:
		s.peer.received(e.In, time.Now())
		m.update(func(st *Status) { st.BytesIn, st.BytesOut = e.In, e.Out })
	case PasswordEvent:
		switch {
		case e.Need && e.Type == "Private Key":
			s.keyWaiting = true
			m.answerKey(s, *keyBad)
		case e.Need && e.Type == "Auth":
			s.authWaiting = true
			m.answerAuth(s, *authBad)
		case e.Need:
			m.setError(fmt.Sprintf("the profile asks for a %q password, which the box cannot give", e.Type))
		case e.Type == "Private Key":
			m.log.Warn("openvpn refused the key passphrase")
			*keyBad = true
			s.attemptErr = ErrBadPassphrase
			m.setError(ErrBadPassphrase)
			m.update(func(st *Status) { st.State = StateNeedsPassphrase })
		case e.Type == "Auth":
			m.authFailed(s, e.Reason, authBad)
		}
	case FatalEvent:
		msg := explainLog(e.Msg, s.answered)
		if msg == "" {
			msg = "openvpn stopped: " + e.Msg
		}
		if !explainKeep(s.attemptErr, msg) {
			s.attemptErr = msg
			m.setError(msg)
		}
	case LogEvent:
		m.onLog(s, e)
	case ReplyEvent:
		if !e.OK {
			m.log.Warn("openvpn management refused a command", "reply", e.Msg)
		}
	}
}

func (m *Manager) onState(s *session, e StateEvent) {
	switch e.Name {
	case "WAIT", "RESOLVE", "TCP_CONNECT", "CONNECTING":
		// A new attempt: forget what the last one learnt.
		s.answered, s.attemptErr = false, ""
	case "AUTH", "GET_CONFIG", "ASSIGN_IP", "ADD_ROUTES":
		s.answered = true
	}
	if e.Name == StateConnected {
		s.connected = true
		s.connectedAt = time.Now()
		s.peer.lastInAt, s.peer.probes = s.connectedAt, 0
	}
	s.peer.live = e.Name == StateConnected
	m.update(func(st *Status) {
		st.State, st.Detail = e.Name, e.Detail
		switch e.Name {
		case StateConnected:
			since := e.Time
			if since.IsZero() {
				since = time.Now()
			}
			st.ConnectedSince = &since
			st.TunnelAddress, st.TunnelAddress6 = e.LocalIP, e.LocalIPv6
			dns := s.peer.ownDNS.with(s.peer.dns)
			st.DNS = dns.status()
			if e.RemoteIP != "" {
				st.Remote = net.JoinHostPort(e.RemoteIP, e.RemotePort)
			}
			st.LastError, st.LastErrorAt = "", nil
		case "ASSIGN_IP":
			st.TunnelAddress, st.TunnelAddress6 = e.LocalIP, e.LocalIPv6
		case StateReconnecting, "EXITING", "WAIT", "RESOLVE", "TCP_CONNECT":
			st.ConnectedSince = nil
			st.TunnelAddress, st.TunnelAddress6 = "", ""
			if e.RemoteIP != "" {
				st.Remote = net.JoinHostPort(e.RemoteIP, e.RemotePort)
			}
		}
	})
	m.log.Info("vpn state", "state", e.Name, "detail", e.Detail)
	if e.Name == StateConnected && e.LocalIP == "" && e.LocalIPv6 == "" && s.peer.push.gatewayDHCP {
		m.log.Warn("connected without a tunnel address: the server leaves addresses to DHCP")
		m.setError(ErrBridgeDHCP)
	}
}

func (m *Manager) onLog(s *session, e LogEvent) {
	s.peer.onPush(e.Msg)
	if contains(e.Msg, "TLS: Initial packet from") || contains(e.Msg, "Peer Connection Initiated") {
		s.answered = true
	}
	if i := strings.Index(e.Msg, "AUTH_FAILED"); i >= 0 {
		reason := strings.TrimSpace(strings.TrimPrefix(e.Msg[i+len("AUTH_FAILED"):], ","))
		var bad bool
		m.authFailed(s, reason, &bad)
		return
	}
	if dev, ok := tunOpened(e.Msg); ok {
		m.update(func(st *Status) { st.Interface = dev })
	}
	msg := explainLog(e.Msg, s.answered)
	if why, ok := explainX509Name(e.Msg); ok {
		msg = why
	}
	if isCompFraming(e.Msg) {
		msg = explainCompFraming(s.compLine)
	}
	if msg == ErrNothingPasses && strings.HasPrefix(s.attemptErr, ErrCompFraming) {
		return // the drop that follows says less than the cause
	}
	if msg == ErrCertExpired {
		s.certExpired = true
	}
	if msg == ErrTLSFailed && s.certExpired {
		msg = ErrCertExpired
	}
	if msg == ErrPingTimeout && !s.connectedAt.IsZero() && time.Since(s.connectedAt) < quickDrop {
		msg = ErrNothingPasses
	}
	if (msg == ErrUnreachable || msg == ErrTLSKeyMismatch) && s.noKeyDir {
		msg += hintKeyDirection
	}
	if msg == "" || explainKeep(s.attemptErr, msg) {
		return
	}
	s.attemptErr = msg
	m.setError(msg)
}

// proxySilentWords says that the HTTP proxy never answered CONNECT.
func proxySilentWords(target string, after time.Duration) string {
	return fmt.Sprintf("%s: the HTTP proxy took the connection but did not answer the request to reach %s within %s; check the proxy (address, whether it allows CONNECT to that port) or remove http-proxy from the profile",
		ErrProxySilent, target, after)
}

// quickDrop: a tunnel lost this soon after it came up never carried
// anything the box could read.
const quickDrop = 45 * time.Second

// releaseHold lets openvpn make its next attempt.
func (m *Manager) releaseHold(s *session) {
	s.holdUntil = time.Time{}
	if err := s.p.mgmt.send("hold release"); err != nil {
		m.log.Warn("management: hold release", "err", err)
	}
	m.update(func(st *Status) { st.Detail = "" })
}

// authFailed explains the server's AUTH_FAILED. Only a profile with a
// login can have a wrong password; the server's reason, if it gave one,
// is the cause, and openvpn's own DEPRECATED hint says what to change.
func (m *Manager) authFailed(s *session, reason string, authBad *bool) {
	if s.hasToken {
		m.log.Info("the VPN server refused its session token (it restarted, or the token expired); logging in again with the stored login", "reason", reason)
		return
	}
	if why, ok := loginNotWrong(reason); ok {
		// the login stays good: openvpn is given it again
		if s.attemptErr != why {
			m.log.Warn("the VPN server did not take the login, not for a wrong password", "reason", reason)
			s.attemptErr = why
			m.setError(why)
		}
		return
	}
	msg := explainAuthFailed(reason, s.needsLogin, s.p.out.deprecated())
	if s.needsLogin && !strings.Contains(strings.ToLower(reason), "cipher") {
		m.log.Warn("the VPN server refused the login", "reason", reason)
		*authBad = true
		s.attemptErr = msg
		m.setError(msg)
		m.update(func(st *Status) { st.State = StateNeedsLogin })
		return
	}
	if s.attemptErr == msg {
		return
	}
	m.log.Warn("the VPN server refused the box", "reason", reason)
	s.attemptErr = msg
	m.setError(msg)
}

// answerKey gives openvpn the stored passphrase, unless it was just refused.
func (m *Manager) answerKey(s *session, bad bool) {
	if s.sec.Passphrase == "" || bad {
		msg := ErrNeedPassphrase
		if bad {
			msg = ErrBadPassphrase
		}
		m.setError(msg)
		m.update(func(st *Status) { st.State = StateNeedsPassphrase })
		return
	}
	s.keyWaiting = false
	m.log.Info("giving openvpn the stored key passphrase")
	if err := s.p.mgmt.send("password " + mgmtQuote("Private Key") + " " + mgmtQuote(s.sec.Passphrase)); err != nil {
		m.log.Warn("management: send passphrase", "err", err)
	}
}

func (m *Manager) answerAuth(s *session, bad bool) {
	// A username without its password (a login file holding the
	// username only) is asked for, not sent with an empty password.
	if s.sec.loginMissing() || bad {
		msg := ErrNeedUserPass
		if bad {
			msg = ErrBadUserPass
		}
		m.setError(msg)
		m.update(func(st *Status) { st.State = StateNeedsLogin })
		return
	}
	s.authWaiting = false
	m.log.Info("giving openvpn the stored login")
	for _, c := range []string{
		"username " + mgmtQuote("Auth") + " " + mgmtQuote(s.sec.Username),
		"password " + mgmtQuote("Auth") + " " + mgmtQuote(s.sec.Password),
	} {
		if err := s.p.mgmt.send(c); err != nil {
			m.log.Warn("management: send login", "err", err)
		}
	}
}

// holdWait reads the wait from "Waiting for hold release:N".
func holdWait(msg string) time.Duration {
	_, n, ok := strings.Cut(msg, ":")
	if !ok {
		return 0
	}
	sec, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || sec <= 0 {
		return 0
	}
	return time.Duration(min(sec, 3600)) * time.Second
}
