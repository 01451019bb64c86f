package web

import (
	"errors"
	"net/http"
)

var errNotFound = errors.New("no such API endpoint: see docs/openapi.yaml")

func (s *Server) uiRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>edgebox</title><p>edgebox web. HTTPS certificate SHA-256: " + s.cert.Fingerprint + "</p>"))
	})
}
