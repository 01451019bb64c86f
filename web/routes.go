package web

import (
	"fmt"
	"net/http"
	"strings"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", s.handleHealth)

	m.HandleFunc("POST /api/v1/setup", s.handleSetup)
	m.HandleFunc("POST /api/v1/login", s.handleLogin)
	m.HandleFunc("POST /api/v1/logout", s.api(s.handleLogout))
	m.HandleFunc("GET /api/v1/session", s.api(s.handleSession))
	m.HandleFunc("POST /api/v1/password", s.api(s.handlePassword))
	m.HandleFunc("GET /api/v1/tokens", s.api(s.handleTokens))
	m.HandleFunc("POST /api/v1/tokens", s.api(s.handleNewToken))
	m.HandleFunc("DELETE /api/v1/tokens/{id}", s.api(s.handleDeleteToken))

	m.HandleFunc("GET /api/v1/system", s.api(s.handleSystem))
	m.HandleFunc("POST /api/v1/system/reboot", s.api(s.handlePower("reboot")))
	m.HandleFunc("POST /api/v1/system/poweroff", s.api(s.handlePower("poweroff")))
	m.HandleFunc("GET /api/v1/services", s.api(s.handleServices))
	m.HandleFunc("POST /api/v1/services/{name}/restart", s.api(s.handleRestart))
	m.HandleFunc("GET /api/v1/services/{name}/logs", s.api(s.handleLogs))

	m.HandleFunc("GET /api/v1/config", s.api(s.handleConfigGet))
	m.HandleFunc("PUT /api/v1/config", s.api(s.handleConfigPut))
	m.HandleFunc("POST /api/v1/config/set", s.api(s.handleConfigSet))
	m.HandleFunc("POST /api/v1/config/validate", s.api(s.handleConfigValidate))
	m.HandleFunc("GET /api/v1/backup", s.api(s.handleBackup))
	m.HandleFunc("POST /api/v1/restore", s.api(s.handleRestore))

	m.HandleFunc("GET /api/v1/local", s.api(s.handleLocalList))
	m.HandleFunc("/api/v1/local/{service}/{path...}", s.api(s.handleLocalProxy))

	m.HandleFunc("GET /api/v1/status", s.api(s.handleStatus))
	m.HandleFunc("GET /api/v1/wizard/{step}/check", s.api(s.handleWizardCheck))
	m.HandleFunc("PUT /api/v1/vpn/profile", s.api(s.handleVPNProfile))
	m.HandleFunc("POST /api/v1/vpn/profile", s.api(s.handleVPNProfile))
	m.HandleFunc("POST /api/v1/gateway/api-keys", s.api(s.handleNewAPIKey))

	m.HandleFunc("POST /api/v1/sms", s.api(s.handleSMSSend))
	m.HandleFunc("GET /api/v1/sms", s.api(s.handleSMSList))
	m.HandleFunc("POST /api/v1/diag", s.api(s.handleDiag))
	m.HandleFunc("POST /api/v1/firmware", s.api(s.handleFirmware))
	m.Handle("GET /metrics", s.handleMetrics(s.metricsHandler()))

	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		// This catch-all also gets known paths asked with the wrong
		// method: answer those 405 with the methods that work.
		var allow []string
		for _, meth := range []string{"GET", "POST", "PUT", "DELETE"} {
			r2 := r.Clone(r.Context())
			r2.Method = meth
			if _, pat := m.Handler(r2); pat != "/api/" {
				allow = append(allow, meth)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			apiError(w, http.StatusMethodNotAllowed, fmt.Errorf("use %s for %s", strings.Join(allow, " or "), r.URL.Path))
			return
		}
		apiError(w, http.StatusNotFound, errNotFound)
	})
	s.uiRoutes(m)
	s.mux = http.NewServeMux()
	s.mux.Handle("/", securityHeaders(m))
}
