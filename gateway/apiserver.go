package gateway

import (
	"errors"
	"net/http"
	"strconv"

	"edgebox/internal/localapi"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// APIHandler serves the local API on /run/edgebox/gateway.sock.
func (s *Service) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.Status())
	})
	mux.HandleFunc("GET /v1/calls", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.activeCalls())
	})
	mux.HandleFunc("GET /v1/history", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		localapi.WriteJSON(w, http.StatusOK, s.historyCalls(limit))
	})
	mux.HandleFunc("POST /v1/calls/{id}/hangup", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		c := s.calls[r.PathValue("id")]
		s.mu.Unlock()
		if c == nil {
			localapi.WriteError(w, http.StatusNotFound, errors.New("no such call in progress (see edgectl calls)"))
			return
		}
		c.requestHangup("hung up by an admin")
		localapi.WriteJSON(w, http.StatusOK, struct{}{})
	})
	s.drainAPI(mux)
	s.pbxCheckAPI(mux)
	s.gsmCallsAPI(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}
