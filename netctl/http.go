package netctl

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"edgebox/api/netapi"
	"edgebox/internal/localapi"
)

// routes mounts netctl's API on s.Mux. Other parts mount theirs next to it
// (netctl/openvpn under /v1/vpn/).
func (s *Service) routes() {
	m := s.Mux
	m.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.Status())
	})
	m.HandleFunc("GET /v1/leases", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.LANLeases())
	})
	m.HandleFunc("GET /v1/uplinks", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.Status().Uplinks)
	})
	m.HandleFunc("GET /v1/modem", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, s.Status().Modem)
	})
	m.HandleFunc("POST /v1/modem/connect", func(w http.ResponseWriter, r *http.Request) {
		mm, err := s.modemManager()
		if err != nil {
			localapi.WriteError(w, http.StatusConflict, err)
			return
		}
		mm.connect()
		localapi.WriteJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("POST /v1/modem/disconnect", func(w http.ResponseWriter, r *http.Request) {
		mm, err := s.modemManager()
		if err != nil {
			localapi.WriteError(w, http.StatusConflict, err)
			return
		}
		mm.disconnect()
		localapi.WriteJSON(w, http.StatusOK, struct{}{})
	})
	m.HandleFunc("POST /v1/modem/puk", s.handlePUK) // modem_puk.go
	m.HandleFunc("POST /v1/modem/at", func(w http.ResponseWriter, r *http.Request) {
		var req ATRequest
		if err := localapi.ReadJSON(r, &req); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		cmd := strings.TrimSpace(req.Command)
		if err := checkAT(cmd, req.Unsafe); err != nil {
			s.log.Warn("AT passthrough refused", "command", redactAT(cmd), "unsafe", req.Unsafe, "err", err)
			localapi.WriteError(w, http.StatusForbidden, err)
			return
		}
		drv, err := s.driverForSlot(req.Slot)
		if err != nil {
			localapi.WriteError(w, http.StatusConflict, err)
			return
		}
		at, ok := drv.(atCommander)
		if !ok {
			localapi.WriteError(w, http.StatusNotImplemented, errors.New("this modem driver has no AT passthrough"))
			return
		}
		timeout := 10 * time.Second
		if req.TimeoutSec > 0 && req.TimeoutSec <= 180 {
			timeout = time.Duration(req.TimeoutSec) * time.Second
		}
		timeout = max(timeout, atSlowest(cmd)) // a network scan: modem_at_slow.go
		// Admins only reach this socket (root); still, every command is logged.
		s.log.Warn("AT passthrough", "slot", req.Slot, "command", redactAT(cmd), "unsafe", req.Unsafe)
		ctx, cancel := context.WithTimeout(r.Context(), timeout+time.Second)
		defer cancel()
		lines, err := at.AT(ctx, cmd, timeout)
		s.log.Info("AT passthrough result", "command", redactAT(cmd), "lines", len(lines), "err", err)
		if err != nil {
			localapi.WriteError(w, http.StatusBadGateway, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, netapi.ATResponse{Lines: lines})
	})
	m.HandleFunc("GET /v1/sms", func(w http.ResponseWriter, r *http.Request) {
		drv, err := s.driverForSlot(r.URL.Query().Get("slot"))
		if err != nil {
			localapi.WriteError(w, http.StatusConflict, err)
			return
		}
		l, err := drv.ListSMS()
		if err != nil {
			localapi.WriteError(w, http.StatusInternalServerError, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, l)
	})
	m.HandleFunc("POST /v1/sms", sendSMSHandler(s.driverForSlot, s.log)) // gsm_http.go: answers the message references too
	m.HandleFunc("DELETE /v1/sms/{id}", func(w http.ResponseWriter, r *http.Request) {
		drv, err := s.driverForSlot(r.URL.Query().Get("slot"))
		if err != nil {
			localapi.WriteError(w, http.StatusConflict, err)
			return
		}
		if err := drv.DeleteSMS(r.PathValue("id")); err != nil {
			localapi.WriteError(w, http.StatusNotFound, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, struct{}{})
	})
	s.gsmRoutes(m) // GSM calls and events for the SIP gateway (gsm_http.go)
	m.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Reload(); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, struct{}{})
	})
}

func (s *Service) modemManager() (*modemManager, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.modem == nil {
		return nil, errors.New("the modem is disabled (network.modem.enabled)")
	}
	return s.modem, nil
}

func (s *Service) modemDriver() (ModemDriver, error) {
	mm, err := s.modemManager()
	if err != nil {
		return nil, err
	}
	return mm.driver()
}

func validSMS(r netapi.SendSMSRequest) error {
	to := strings.TrimPrefix(r.To, "+")
	if to == "" || len(to) > 20 || strings.Trim(to, "0123456789") != "" {
		return errors.New("to: want a phone number, digits with an optional leading +")
	}
	if r.Text == "" {
		return errors.New("text: empty message")
	}
	if len([]rune(r.Text)) > 1530 {
		return errors.New("text: longer than 10 concatenated parts (1530 characters)")
	}
	return nil
}
