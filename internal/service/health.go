package service

import (
	"context"
	"net/http"
	"os"
	"sync"
	"time"

	"edgebox/internal/localapi"
)

// Health is the skeleton's answer to GET /healthz on a service's socket:
// the process answers, since when, and whether its last config was taken.
type Health struct {
	Service   string    `json:"service"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"started_at"`
	// ConfigAt is when the running config was put into effect.
	ConfigAt time.Time `json:"config_at"`
	// OK is false while the last config (at start or reload) was refused.
	OK bool `json:"ok"`
	// ReloadError is that refusal; a later reload that succeeds clears it.
	ReloadError *ConfigError `json:"reload_error,omitempty"`
}

// state is what /healthz reports; reloads write it.
type state struct {
	reloading sync.Mutex // one reload at a time
	mu        sync.Mutex
	h         Health
}

func newState(name string) *state {
	now := time.Now()
	return &state{h: Health{Service: name, PID: os.Getpid(), StartedAt: now, ConfigAt: now, OK: true}}
}

func (s *state) refused(e *ConfigError) {
	s.mu.Lock()
	s.h.OK, s.h.ReloadError = false, e
	s.mu.Unlock()
}

func (s *state) applied() {
	s.mu.Lock()
	s.h.OK, s.h.ReloadError, s.h.ConfigAt = true, nil, time.Now()
	s.mu.Unlock()
}

func (s *state) health() Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}

// reloadAnswer is the body of a refused POST /v1/reload (status 400).
type reloadAnswer struct {
	Error       string       `json:"error"`
	ReloadError *ConfigError `json:"reload_error"`
}

// serveSocket opens the service's socket (mode 0600, localapi) and serves
// there until ctx ends: /healthz, POST /v1/reload (the same reload as
// SIGHUP, for callers that want the answer; it takes the place of any
// route of the service's own at that path) and the service's API.
func serveSocket(ctx context.Context, wg *sync.WaitGroup, spec Spec, env Env, svc Service, st *state) error {
	l, err := localapi.ListenPath(env.Socket)
	if err != nil {
		if spec.SocketOptional {
			env.Log.Error("API socket not opened; running without it", "socket", env.Socket, "err", err)
			return nil
		}
		env.Log.Error(spec.Name+" cannot start", "err", err)
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, st.health())
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if cerr := reload(spec, env, svc, st); cerr != nil {
			localapi.WriteJSON(w, http.StatusBadRequest, reloadAnswer{Error: cerr.Error(), ReloadError: cerr})
			return
		}
		localapi.WriteJSON(w, http.StatusOK, struct{}{})
	})
	if h := svc.Handler(); h != nil {
		mux.Handle("/", h)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := localapi.Serve(ctx, l, mux); err != nil {
			env.Log.Error("API socket", "err", err)
		}
	}()
	return nil
}
