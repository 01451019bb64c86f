package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"edgebox/internal/lazyregexp"
	"edgebox/internal/sysapi"
)

// Health is the unauthenticated /healthz answer: what init reports about
// the box and its services, and whether all is well.
type Health struct {
	Board     string          `json:"board"`
	Version   string          `json:"version"`
	UptimeSec float64         `json:"uptime_sec"`
	Services  []HealthService `json:"services"`
	// OK is true when every service is running (or deliberately stopped).
	// Without init (tests), it reflects only the web service itself.
	OK bool `json:"ok"`
	// Init is empty when init answered, else why it could not be asked.
	Init string `json:"init_error,omitempty"`
}

// HealthService is one service in Health.
type HealthService struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	PID      int    `json:"pid"`
}

var serviceName = lazyregexp.New(`^[a-z][a-z0-9-]{0,31}$`)

func (s *Server) health(ctx context.Context) Health {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	h := Health{Version: s.opt.Version, UptimeSec: time.Since(s.started).Seconds(), Services: []HealthService{}, OK: true}
	st, err := s.initClient().Status(ctx)
	if err != nil {
		h.Init = "init not reachable"
		return h
	}
	h.Board, h.Version, h.UptimeSec = st.Board, st.Version, st.UptimeSec
	for _, sv := range st.Services {
		h.Services = append(h.Services, HealthService{Name: sv.Name, State: sv.State, Restarts: sv.Restarts, PID: sv.PID})
		if sv.State != sysapi.StateRunning && sv.State != sysapi.StateStopped {
			h.OK = false
		}
	}
	return h
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	// Always 200: the answer itself proves the web service is up; "ok"
	// says whether the rest of the box is.
	apiJSON(w, http.StatusOK, s.health(r.Context()))
}

// initError maps a failed init call to an answer.
func initError(w http.ResponseWriter, err error) {
	apiError(w, http.StatusBadGateway, fmt.Errorf("init: %w", err))
}

func (s *Server) handleSystem(w http.ResponseWriter, r *http.Request) {
	st, err := s.initClient().Status(r.Context())
	if err != nil {
		initError(w, err)
		return
	}
	apiJSON(w, http.StatusOK, st)
}

func (s *Server) handleServices(w http.ResponseWriter, r *http.Request) {
	st, err := s.initClient().Status(r.Context())
	if err != nil {
		initError(w, err)
		return
	}
	if st.Services == nil {
		st.Services = []sysapi.Service{}
	}
	apiJSON(w, http.StatusOK, st.Services)
}

func pathService(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if !serviceName.MatchString(name) {
		apiError(w, http.StatusBadRequest, fmt.Errorf("service name %q is not valid", name))
		return "", false
	}
	return name, true
}

func (s *Server) handleRestart(w http.ResponseWriter, r *http.Request) {
	name, ok := pathService(w, r)
	if !ok {
		return
	}
	if err := s.initClient().Restart(r.Context(), name); err != nil {
		initError(w, err)
		return
	}
	s.log.Info("service restart requested", "service", name, "from", clientAddr(r))
	apiJSON(w, http.StatusOK, OK{true})
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	name, ok := pathService(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var after uint64
	limit := 200
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			apiError(w, http.StatusBadRequest, errors.New("after: not a sequence number"))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 || limit > 10000 {
			apiError(w, http.StatusBadRequest, errors.New("limit: use 0..10000"))
			return
		}
	}
	lines, err := s.initClient().Logs(r.Context(), name, after, limit)
	if err != nil {
		initError(w, err)
		return
	}
	if lines == nil {
		lines = []sysapi.LogLine{}
	}
	apiJSON(w, http.StatusOK, lines)
}

func (s *Server) handlePower(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.initClient().Power(r.Context(), action); err != nil {
			initError(w, err)
			return
		}
		s.log.Info("power action requested", "action", action, "from", clientAddr(r))
		apiJSON(w, http.StatusAccepted, OK{true})
	}
}
