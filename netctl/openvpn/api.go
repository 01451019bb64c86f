package openvpn

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"edgebox/api/vpnapi"
	"edgebox/internal/localapi"
)

// The VPN API, served by netctl on its socket:
//
//	GET  /v1/vpn/status       -> Status
//	POST /v1/vpn/import       multipart form: file "profile", optional fields
//	                          "passphrase", "username", "password"; or the raw
//	                          file as the body with ?filename=NAME -> ImportResult
//	POST /v1/vpn/credentials  Credentials (JSON) -> Status
//	POST /v1/vpn/reconnect    -> Status
const apiPrefix = vpnapi.Prefix

// The API's types and client live in the leaf package vpnapi, so that its
// clients do not link netctl; these aliases keep the names for the server.
type (
	Status       = vpnapi.Status
	ImportResult = vpnapi.ImportResult
	// Client is the VPN API's typed client; this package's tests use it.
	Client = vpnapi.Client
)

// States beyond openvpn's own (see vpnapi).
const (
	StateDisabled         = vpnapi.StateDisabled
	StateNoProfile        = vpnapi.StateNoProfile
	StateWaitingForUplink = vpnapi.StateWaitingForUplink
	StateStarting         = vpnapi.StateStarting
	StateNeedsPassphrase  = vpnapi.StateNeedsPassphrase
	StateNeedsLogin       = vpnapi.StateNeedsLogin
	StateRestarting       = vpnapi.StateRestarting
	StateStopped          = vpnapi.StateStopped
	StateConnected        = vpnapi.StateConnected
	StateReconnecting     = vpnapi.StateReconnecting
)

// NewClientWith wraps an existing transport (tests).
func NewClientWith(c *localapi.Client) Client { return vpnapi.NewClientWith(c) }

// Routes mounts the VPN API on mux.
func (m *Manager) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+apiPrefix+"status", func(w http.ResponseWriter, r *http.Request) {
		localapi.WriteJSON(w, http.StatusOK, m.Status())
	})
	mux.HandleFunc("POST "+apiPrefix+"import", m.serveImport)
	mux.HandleFunc("POST "+apiPrefix+"credentials", func(w http.ResponseWriter, r *http.Request) {
		var c Credentials
		if err := localapi.ReadJSON(r, &c); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		if err := m.SetCredentials(c); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, err)
			return
		}
		localapi.WriteJSON(w, http.StatusOK, m.Status())
	})
	mux.HandleFunc("POST "+apiPrefix+"reconnect", func(w http.ResponseWriter, r *http.Request) {
		m.Reconnect()
		localapi.WriteJSON(w, http.StatusOK, m.Status())
	})
}

func (m *Manager) serveImport(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadSize+64<<10)
	var (
		file     io.Reader
		filename string
		creds    Credentials
	)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(MaxUploadSize + 64<<10); err != nil {
			localapi.WriteError(w, http.StatusBadRequest, fmt.Errorf("bad upload: %w", err))
			return
		}
		defer r.MultipartForm.RemoveAll()
		f, h, err := r.FormFile("profile")
		if err != nil {
			localapi.WriteError(w, http.StatusBadRequest, errors.New(`bad upload: no file in field "profile"`))
			return
		}
		defer f.Close()
		file, filename = f, h.Filename
		for _, k := range []struct {
			name string
			dst  **string
		}{{"passphrase", &creds.Passphrase}, {"username", &creds.Username}, {"password", &creds.Password}} {
			if v, ok := r.MultipartForm.Value[k.name]; ok && len(v) > 0 && v[0] != "" {
				s := v[0]
				*k.dst = &s
			}
		}
	} else {
		file, filename = r.Body, r.URL.Query().Get("filename")
		if filename == "" {
			filename = "profile.ovpn"
		}
	}
	info, err := m.ImportWithCredentials(file, filename, creds)
	if err != nil {
		localapi.WriteError(w, http.StatusBadRequest, err)
		return
	}
	localapi.WriteJSON(w, http.StatusOK, ImportResult{Profile: info})
}
