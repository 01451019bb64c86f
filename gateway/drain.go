package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"edgebox/internal/localapi"

	"github.com/emiago/sipgo/sip"
)

// A draining box takes no new calls (portal 503 + Retry-After, SIP OPTIONS
// 503 so a dispatcher stops sending) and lets the live ones end, before a
// reboot, an update or a gateway restart (docs/fleet.md, section 6).

// drainRetryAfter is the Retry-After a draining box sends: long enough for
// a portal to move on to another box, short enough to come back after a
// reboot.
const drainRetryAfter = 30

// errDraining refuses a new call on a draining box.
var errDraining = errors.New("the box is draining before a restart and takes no new calls: use another box or retry later")

type drainState struct {
	mu       sync.Mutex
	draining bool
	since    time.Time
}

// DrainInfo is the drain state the API shows (GET/POST /v1/drain).
type DrainInfo struct {
	Draining    bool   `json:"draining"`
	Since       string `json:"since,omitempty"`
	ActiveCalls int    `json:"active_calls"`
	LimitSec    int    `json:"limit_sec"`
	// TimedOut says that a wait ended at the limit with calls still live.
	TimedOut bool `json:"timed_out,omitempty"`
}

// Drain stops the box taking new calls; live calls go on.
func (s *Service) Drain() {
	s.drain.mu.Lock()
	was := s.drain.draining
	if !was {
		s.drain.draining, s.drain.since = true, time.Now()
	}
	s.drain.mu.Unlock()
	if !was {
		s.log.Warn("draining: new calls are refused until undrain or restart", "active_calls", s.Status().ActiveCalls)
	}
}

// Undrain makes the box take new calls again.
func (s *Service) Undrain() {
	s.drain.mu.Lock()
	was := s.drain.draining
	s.drain.draining = false
	s.drain.mu.Unlock()
	if was {
		s.log.Info("drain ended: taking new calls")
	}
}

// Draining says whether the box refuses new calls.
func (s *Service) Draining() bool {
	s.drain.mu.Lock()
	defer s.drain.mu.Unlock()
	return s.drain.draining
}

// DrainState reports the drain state.
func (s *Service) DrainState() DrainInfo {
	s.drain.mu.Lock()
	d := DrainInfo{Draining: s.drain.draining}
	if d.Draining {
		d.Since = s.drain.since.UTC().Format(time.RFC3339)
	}
	s.drain.mu.Unlock()
	d.ActiveCalls = s.Status().ActiveCalls
	d.LimitSec = int(s.Config().DrainLimit() / time.Second)
	return d
}

// DrainWait drains and waits until no call is live, the drain limit
// (gateway.drain_limit_sec) passes or ctx ends. It reports whether the
// calls ended.
func (s *Service) DrainWait(ctx context.Context) bool {
	s.Drain()
	limit := s.Config().DrainLimit()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		n := s.Status().ActiveCalls
		if n == 0 {
			s.log.Info("drained: no call is live")
			return true
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			s.log.Warn("drain limit reached with calls still live; going on", "active_calls", n, "limit", limit)
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// refuseDraining answers a portal request on a draining box with 503 and
// Retry-After. It spends no rate-limit token: the portal did nothing wrong.
func (s *Service) refuseDraining(w http.ResponseWriter) {
	s.metrics.portalRefusals.WithLabelValues("draining").Inc()
	w.Header().Set("Retry-After", strconv.Itoa(drainRetryAfter))
	localapi.WriteError(w, http.StatusServiceUnavailable, errDraining)
}

// drainingSIPResponse is a draining box's answer to a SIP request that
// would start something new (an INVITE or MESSAGE from the PBX): 503 with
// Retry-After, so a dispatcher sends it through another box at once.
func drainingSIPResponse(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(drainRetryAfter)))
	res.AppendHeader(sip.NewHeader("Reason", `SIP;cause=503;text="the gateway is draining before a restart"`))
	return res
}

// notDraining wraps a portal handler that starts something new.
func (s *Service) notDraining(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Draining() {
			s.refuseDraining(w)
			return
		}
		h(w, r)
	}
}

// health is what SIP OPTIONS answers: 200 when the box takes calls, else
// 503 with why (a dispatcher marks the box inactive).
func (s *Service) health() (int, string) {
	if s.Draining() {
		return 503, "Draining"
	}
	if err := s.callRoom(); err != nil {
		return 503, "Busy"
	}
	s.mu.Lock()
	reg := s.reg
	s.mu.Unlock()
	if reg != nil && reg.state() != "registered" {
		return 503, "Trunk Down"
	}
	return 200, "OK"
}

// drainAPI adds the drain endpoints to the local API: GET shows the state,
// POST /v1/drain drains (?wait=1: and waits for the calls, up to the
// limit), POST /v1/undrain takes calls again.
func (s *Service) drainAPI(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.DrainState())
	})
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		s.Drain()
		timedOut := false
		if r.URL.Query().Get("wait") == "1" {
			timedOut = !s.DrainWait(r.Context())
		}
		d := s.DrainState()
		d.TimedOut = timedOut
		localapi.WriteJSON(w, http.StatusOK, d)
	})
	mux.HandleFunc("POST /v1/undrain", func(w http.ResponseWriter, r *http.Request) {
		s.Undrain()
		localapi.WriteJSON(w, http.StatusOK, s.DrainState())
	})
}
