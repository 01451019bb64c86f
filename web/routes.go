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
	m.HandleFunc("POST /api/v1/logout", s.read(s.handleLogout))
	m.HandleFunc("GET /api/v1/session", s.read(s.handleSession))
	m.HandleFunc("POST /api/v1/password", s.admin(s.handlePassword))
	m.HandleFunc("POST /api/v1/password/reset", s.handlePasswordReset)
	m.HandleFunc("POST /api/v1/password/reset-code", s.handleResetCode)
	m.HandleFunc("GET /api/v1/tokens", s.read(s.handleTokens))
	m.HandleFunc("POST /api/v1/tokens", s.admin(s.handleNewToken))
	m.HandleFunc("DELETE /api/v1/tokens/{id}", s.admin(s.handleDeleteToken))

	m.HandleFunc("GET /api/v1/system", s.read(s.handleSystem))
	m.HandleFunc("POST /api/v1/system/reboot", s.operate(s.handlePower("reboot")))
	m.HandleFunc("POST /api/v1/system/poweroff", s.operate(s.handlePower("poweroff")))
	m.HandleFunc("POST /api/v1/system/time", s.admin(s.handleSetClock))
	m.HandleFunc("POST /api/v1/system/factory-reset", s.admin(s.handleFactoryReset))
	m.HandleFunc("GET /api/v1/services", s.read(s.handleServices))
	m.HandleFunc("POST /api/v1/services/{name}/restart", s.operate(s.handleRestart))
	m.HandleFunc("GET /api/v1/services/{name}/logs", s.read(s.handleLogs))

	m.HandleFunc("GET /api/v1/config", s.read(s.handleConfigGet))
	m.HandleFunc("PUT /api/v1/config", s.admin(s.handleConfigPut))
	m.HandleFunc("POST /api/v1/config/set", s.admin(s.handleConfigSet))
	// admin: its list of changes tells whether a secret sent equals the
	// stored one, an oracle for a SIM PIN or a weak password (third review).
	m.HandleFunc("POST /api/v1/config/validate", s.admin(s.handleConfigValidate))
	m.HandleFunc("POST /api/v1/backup", s.admin(s.handleBackup))
	m.HandleFunc("POST /api/v1/support-bundle", s.admin(s.handleSupportBundle))
	m.HandleFunc("POST /api/v1/restore", s.admin(s.handleRestore))

	// The raw service proxy bypasses web's own checks: admin only.
	m.HandleFunc("GET /api/v1/local", s.read(s.handleLocalList))
	m.HandleFunc("/api/v1/local/{service}/{path...}", s.admin(s.handleLocalProxy))

	m.HandleFunc("GET /api/v1/status", s.read(s.handleStatus))
	m.HandleFunc("GET /api/v1/wizard/{step}/check", s.read(s.handleWizardCheck))
	m.HandleFunc("PUT /api/v1/vpn/profile", s.admin(s.handleVPNProfile))
	m.HandleFunc("POST /api/v1/vpn/profile", s.admin(s.handleVPNProfile))
	m.HandleFunc("POST /api/v1/vpn/credentials", s.admin(s.handleVPNCredentials))
	m.HandleFunc("POST /api/v1/gateway/api-keys", s.admin(s.handleNewAPIKey))

	m.HandleFunc("POST /api/v1/modem/puk", s.admin(s.handleModemPUK)) // modem_puk.go
	m.HandleFunc("POST /api/v1/sms", s.operate(s.handleSMSSend))
	// operate, like sending: SMS bring one-time login codes, and read
	// tokens go to monitoring systems (sixth review).
	m.HandleFunc("GET /api/v1/sms", s.operate(s.handleSMSList))
	m.HandleFunc("POST /api/v1/diag", s.operate(s.handleDiag))
	m.HandleFunc("POST /api/v1/firmware", s.admin(s.handleFirmware))
	m.HandleFunc("POST /api/v1/firmware/inspect", s.admin(s.handleFirmwareInspect))
	m.Handle("GET /metrics", s.read(s.metricsHandler().ServeHTTP))

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
	s.mux.Handle("/", securityHeaders(s.guard(m)))
}
