// Package web is the box's local web UI and admin REST API. It answers only
// on the LAN and VPN interfaces: plain HTTP on the LAN for the first-boot
// bootstrap, the JSON API and a pointer to HTTPS; HTTPS with a self-signed
// certificate for everything. Pages, scripts and styles are embedded so
// nothing is fetched from the internet.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/paths"
	"edgebox/internal/sysapi"
)

// Options configure a Server. Zero values mean the box's defaults.
type Options struct {
	HTTPAddr   string // ":80"
	HTTPSAddr  string // ":443"
	ConfigPath string // paths.ConfigFile()
	SecretsDir string // paths.SecretsDir()
	// Interfaces overrides the config's web.interfaces patterns.
	Interfaces []string
	// Hostname is put in the certificate (os.Hostname()).
	Hostname string
	// Version is this firmware's version, shown when init is absent.
	Version string
	// Config is the config to start with (loaded by the service
	// skeleton); nil reads ConfigPath.
	Config *config.Config
	// Log is the service's logger (slog.Default()).
	Log *slog.Logger

	BcryptCost  int           // bcrypt.DefaultCost
	MaxFailures int           // failed logins from one source before it must wait (5)
	Lockout     time.Duration // how long that source waits (5 min)

	// BoardLAN also allows the running board's LAN ports (on the box).
	BoardLAN bool

	// ListInterfaces replaces the kernel's interface list (tests).
	ListInterfaces Interfaces
	// ListenDevice replaces ListenDevice (tests: listeners in a namespace).
	ListenDevice func(network, addr, dev string) (net.Listener, error)
	// SessionMaxAge ends every session this long after login, active or
	// not (12 h).
	SessionMaxAge time.Duration
	// Now replaces the clock for sessions and tokens (tests).
	Now func() time.Time
	// SetClock replaces setting the system clock (tests).
	SetClock func(time.Time) error
}

// Server is the web service.
type Server struct {
	opt      Options
	log      *slog.Logger
	accounts *Accounts
	sessions *sessions
	limiter  *loginLimiter
	policy   *AccessPolicy
	cert     *Certificate
	resets   resetCodes
	started  time.Time

	cfgMu sync.Mutex // serialises config read-modify-write (lockConfig)
	tmpl  templates

	metrics      webMetrics
	refusedCount atomic.Int64
	smsQuota     smsQuota   // SMS below admin scope without the GSM bridge: sms_policy.go
	conns        connCap    // open connections per source and interface: conncap.go
	lockedLog    summaryLog // logins refused to a waiting source: logsummary.go
	resetLog     summaryLog // reset codes asked for

	mux *http.ServeMux
}

// New prepares the server: loads or creates the admin account file and the
// HTTPS certificate. It does not listen yet.
func New(opt Options) (*Server, error) {
	if opt.HTTPAddr == "" {
		opt.HTTPAddr = ":80"
	}
	if opt.HTTPSAddr == "" {
		opt.HTTPSAddr = ":443"
	}
	if opt.ConfigPath == "" {
		opt.ConfigPath = paths.ConfigFile()
	}
	if opt.SecretsDir == "" {
		opt.SecretsDir = paths.SecretsDir()
	}
	if opt.Hostname == "" {
		opt.Hostname, _ = os.Hostname()
	}
	if opt.BcryptCost == 0 {
		opt.BcryptCost = 10
	}
	if opt.MaxFailures == 0 {
		opt.MaxFailures = 5
	}
	if opt.Lockout == 0 {
		opt.Lockout = 5 * time.Minute
	}
	if opt.SessionMaxAge == 0 {
		opt.SessionMaxAge = 12 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Version == "" {
		opt.Version = "dev"
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	cfg := opt.Config
	if cfg == nil {
		var err error
		if cfg, err = config.Load(opt.ConfigPath); err != nil {
			// A broken config must not lock the admin out of the box that
			// could repair it: serve with the defaults and say so.
			opt.Log.Error("config unreadable, web uses its defaults", "err", err)
			cfg = config.Default()
		}
	}
	patterns := opt.Interfaces
	if len(patterns) == 0 {
		patterns = cfg.Web.AllowedInterfaces()
	}
	idle := time.Duration(cfg.Web.SessionMinutes) * time.Minute
	if idle == 0 {
		idle = time.Hour
	}
	acc, err := OpenAccounts(filepath.Join(opt.SecretsDir, "web-admin.json"), opt.BcryptCost)
	if acc != nil {
		acc.now = opt.Now
	}
	if err != nil {
		return nil, err
	}
	cert, created, err := LoadOrCreateCertificate(filepath.Join(opt.SecretsDir, "web-cert.pem"), filepath.Join(opt.SecretsDir, "web-key.pem"), opt.Hostname)
	if err != nil {
		return nil, fmt.Errorf("HTTPS certificate: %w", err)
	}
	s := &Server{
		opt:      opt,
		log:      opt.Log,
		accounts: acc,
		sessions: newSessions(idle, opt.SessionMaxAge, opt.Now),
		limiter:  newLoginLimiter(opt.MaxFailures, opt.Lockout),
		policy:   NewAccessPolicy(patterns, opt.ListInterfaces),
		cert:     cert,
		started:  time.Now(),
		metrics:  newWebMetrics(),
	}
	if s.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if opt.BoardLAN {
		s.policy.Extra = BoardLANInterfaces
	}
	what := "certificate"
	if created {
		what = "new certificate"
	}
	// Printed, not only logged: init copies it to the serial console so
	// an installer can compare it with what the browser shows.
	fmt.Fprintf(os.Stderr, "web: HTTPS %s SHA-256 fingerprint %s\n", what, cert.Fingerprint)
	s.log.Info("web ready", "interfaces", patterns, "board_lan", boardLAN(opt.BoardLAN), "admin_set", acc.HasAdmin())
	s.routes()
	return s, nil
}

// Fingerprint is the SHA-256 fingerprint of the HTTPS certificate.
func (s *Server) Fingerprint() string { return s.cert.Fingerprint }

// Handler serves everything (as over HTTPS).
func (s *Server) Handler() http.Handler { return s.mux }

// HTTPHandler serves plain HTTP: /healthz and the start page with the
// certificate fingerprint; pages are redirected to HTTPS.
func (s *Server) HTTPHandler() http.Handler { return s.plainHTTP(s.mux) }

// SocketHandler serves web's unix socket (edgectl on the box), whose
// callers act as the admin: only root can open it. The service skeleton
// (internal/service) opens the socket.
func (s *Server) SocketHandler() http.Handler { return trusted(s.Handler()) }

// Run listens on the configured ports of every allowed interface (one
// socket per interface, bound to it) until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	hl, err := newDeviceListener(s.opt.HTTPAddr, s.policy, s.opt.ListenDevice)
	if err != nil {
		return fmt.Errorf("listen HTTP: %w", err)
	}
	sl, err := newDeviceListener(s.opt.HTTPSAddr, s.policy, s.opt.ListenDevice)
	if err != nil {
		hl.Close()
		return fmt.Errorf("listen HTTPS: %w", err)
	}
	return s.Serve(ctx, hl, sl)
}

// Serve serves plain HTTP on hl and HTTPS on sl until ctx ends. Either may
// be nil. Connections that did not arrive on an allowed interface are
// closed: hl and sl must be bound to a device (ListenDevice) or to
// loopback, else the arrival interface is unknown and all is refused.
func (s *Server) Serve(ctx context.Context, hl, sl net.Listener) error {
	return s.ServeAll(ctx, hl, sl, nil)
}

// ServeAll is Serve plus web's own unix socket ul (edgectl on the box),
// whose callers act as the admin: only root can open it.
func (s *Server) ServeAll(ctx context.Context, hl, sl, ul net.Listener) error {
	var servers []*http.Server
	errc := make(chan error, 4)
	start := func(l net.Listener, h http.Handler, tlsOn bool) {
		srv := &http.Server{
			Handler:           bodyDeadline(h),
			ReadHeaderTimeout: 10 * time.Second,
			// net/http's default is 1 MiB, held until the headers end:
			// 512 connections of one interface held half a gigabyte
			// (seventh review)
			MaxHeaderBytes: 64 << 10,
			IdleTimeout:    2 * time.Minute,
			ErrorLog:       slogErrorLog(),
			ConnContext:    withIngress,
		}
		if tlsOn {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{s.cert.TLS}, MinVersion: tls.VersionTLS12}
			l = tls.NewListener(l, srv.TLSConfig)
		}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(l) }()
	}
	filter := func(l net.Listener) net.Listener {
		return &filterListener{Listener: l, policy: s.policy, refused: s.countRefused, caps: &s.conns}
	}
	n := 0
	if hl != nil {
		// HTTPS is answered on the HTTP port too (sniff.go).
		plain, sniffed := splitTLS(filter(hl))
		start(plain, s.HTTPHandler(), false)
		start(sniffed, s.Handler(), true)
		n += 2
	}
	if sl != nil {
		start(filter(sl), s.Handler(), true)
		n++
	}
	if ul != nil {
		srv := &http.Server{Handler: trusted(s.Handler()), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slogErrorLog()}
		servers = append(servers, srv)
		go func() { errc <- srv.Serve(ul) }()
		n++
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		n--
	}
	shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, srv := range servers {
		srv.Shutdown(shut)
	}
	for ; n > 0; n-- {
		<-errc
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Apply puts a reloaded config into effect (SIGHUP, via the service
// skeleton): the interfaces to answer on, unless -interfaces fixed them.
func (s *Server) Apply(cfg *config.Config) error {
	if len(s.opt.Interfaces) > 0 {
		s.log.Info("web config in effect; interfaces fixed by -interfaces", "interfaces", s.opt.Interfaces)
		return nil
	}
	s.policy.SetPatterns(cfg.Web.AllowedInterfaces())
	s.log.Info("web config in effect", "interfaces", cfg.Web.AllowedInterfaces())
	return nil
}

func boardLAN(on bool) []string {
	if !on {
		return nil
	}
	return BoardLANInterfaces()
}

func (s *Server) initClient() sysapi.Client { return sysapi.NewClient() }

// loadConfig reads the current config file.
func (s *Server) loadConfig() (*config.Config, error) { return config.Load(s.opt.ConfigPath) }

func (s *Server) countRefused() {
	s.metrics.refused.Inc()
	s.refusedCount.Add(1)
}
