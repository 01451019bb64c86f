// Package service is the one skeleton every box service runs in (netctl,
// gateway, web): the flags they share, the logger, the API socket
// /run/edgebox/NAME.sock with its /healthz, config reload on SIGHUP (load →
// validate → apply, the running config kept on refusal, one error shape)
// and the stop on SIGTERM/SIGINT within the service's stop time. A service
// is a Spec; its command is service.Main(spec).
package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"edgebox/internal/config"
)

// Spec describes one service to Run.
type Spec struct {
	// Name is the service's name: its socket is NAME.sock, its errors say it.
	Name string
	// StopTime is how long the service may take to stop once its context
	// ends (drain calls, take links down). Run then gives up with an
	// error; init's own StopTimeout (SIGKILL) should not be shorter.
	StopTime time.Duration
	// Flags declares the service's own flags next to the common ones.
	Flags func(fs *flag.FlagSet)
	// Start builds the service from the config the skeleton loaded and
	// validated. It must not block: the work happens in Service.Run.
	Start func(ctx context.Context, env Env, cfg *config.Config) (Service, error)
	// StartWithDefaults: a config that does not load at start is logged
	// (as a ConfigError) and the defaults used instead of refusing to run
	// (web: a broken config must not lock the admin out of the box that
	// could repair it).
	StartWithDefaults bool
	// SocketOptional: a socket that cannot be opened is logged and the
	// service runs without it (web: the UI works; edgectl needs a token).
	SocketOptional bool

	// Args replaces os.Args[1:] (tests running a service in-process).
	Args []string
	// LogOutput replaces os.Stderr as the log's destination (tests).
	LogOutput io.Writer
}

// Service is what a Spec's Start returns.
type Service interface {
	// Handler serves the service's API on its unix socket. The skeleton
	// answers GET /healthz there itself.
	Handler() http.Handler
	// Run does the service's work until ctx ends, then stops it (within
	// Spec.StopTime) and returns. An error ends the process.
	Run(ctx context.Context) error
	// Apply puts a reloaded, validated config into effect. An error says
	// it was refused; the service must then still run its previous one.
	Apply(cfg *config.Config) error
}

// Validator is implemented by a service whose config has rules beyond
// config.Validate (checked at reload before Apply).
type Validator interface {
	Validate(cfg *config.Config) error
}

// Env is what the skeleton gives the service it starts.
type Env struct {
	Name       string
	Log        *slog.Logger // the one logger of the service
	ConfigPath string       // -config
	Socket     string       // -socket
	// ConfigRefused: the config did not load at start and the service
	// runs on the defaults (StartWithDefaults); nil otherwise. A service
	// shows it in its own status.
	ConfigRefused *ConfigError
}

// errStopTimeout is returned when the service did not stop in its StopTime.
var errStopTimeout = errors.New("did not stop within its stop time")

// Main runs spec as the process's service and exits: 0 after a clean stop,
// 2 on bad flags, 1 on any other error (already logged by Run).
func Main(spec Spec) {
	err := Run(context.Background(), spec)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		os.Exit(1)
	}
}

// Run runs the service of spec until SIGTERM/SIGINT or ctx ends, or the
// service stops by itself. Errors it returns are logged already.
func Run(ctx context.Context, spec Spec) error {
	// Signals first: a SIGHUP during start-up must not kill the process
	// (its default action) but wait for the service.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(term)

	f, err := parseFlags(spec)
	if err != nil {
		return err
	}
	log := newLogger(spec.LogOutput, f.level)
	if spec.LogOutput == nil {
		// Code that still logs through slog's default (libraries, and
		// any handler not yet given the logger) lands in the same place
		// at the same level; the service itself uses env.Log. A test
		// running a service in its own process (LogOutput) keeps its
		// default: the test ends before the process does.
		slog.SetDefault(log)
	}
	env := Env{Name: spec.Name, Log: log, ConfigPath: f.config, Socket: f.socket}
	st := newState(spec.Name)

	cfg, cerr := loadConfig(spec.Name, f.config)
	if cerr != nil {
		if !spec.StartWithDefaults {
			log.Error(spec.Name+" cannot start: config rejected", cerr.attrs()...)
			return cerr
		}
		log.Error("config rejected at start, running with the defaults", cerr.attrs()...)
		cfg = config.Default()
		st.refused(cerr)
		env.ConfigRefused = cerr
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	svc, err := spec.Start(ctx, env, cfg)
	if err != nil {
		log.Error(spec.Name+" cannot start", "err", err)
		return fmt.Errorf("%s cannot start: %w", spec.Name, err)
	}
	var wg sync.WaitGroup // the socket server and the reloader
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()

	if err := serveSocket(ctx, &wg, spec, env, svc, st); err != nil {
		cancel()
		if werr := waitStop(spec, log, done, &wg); werr != nil {
			return werr
		}
		return err
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		releaseStartMemory(ctx)
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(spec, env, svc, st)
			}
		}
	}()

	select {
	case s := <-term:
		log.Info(spec.Name+" stopping", "signal", s.String(), "stop_time", spec.StopTime)
	case <-ctx.Done():
		log.Info(spec.Name + " stopping")
	case err := <-done:
		cancel()
		wg.Wait()
		if err != nil {
			log.Error(spec.Name+" stopped", "err", err)
			return fmt.Errorf("%s: %w", spec.Name, err)
		}
		log.Info(spec.Name + " stopped by itself")
		return nil
	}
	cancel()
	return waitStop(spec, log, done, &wg)
}

// waitStop waits StopTime for the service (and the skeleton's own
// goroutines) to end after its context was cancelled.
func waitStop(spec Spec, log *slog.Logger, done <-chan error, wg *sync.WaitGroup) error {
	start := time.Now()
	all := make(chan error, 1)
	go func() {
		err := <-done
		wg.Wait()
		all <- err
	}()
	t := time.NewTimer(spec.StopTime)
	defer t.Stop()
	select {
	case err := <-all:
		if err != nil {
			log.Error(spec.Name+" stopped", "err", err, "took", time.Since(start).Round(time.Millisecond))
			return fmt.Errorf("%s: %w", spec.Name, err)
		}
		log.Info(spec.Name+" stopped", "took", time.Since(start).Round(time.Millisecond))
		return nil
	case <-t.C:
		log.Error(spec.Name+" "+errStopTimeout.Error()+"; exiting anyway", "stop_time", spec.StopTime)
		return fmt.Errorf("%s %w (%s)", spec.Name, errStopTimeout, spec.StopTime)
	}
}
