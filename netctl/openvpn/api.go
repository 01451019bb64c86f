package openvpn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

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
const apiPrefix = "/v1/vpn/"

// ImportResult answers an import.
type ImportResult struct {
	Profile ProfileInfo `json:"profile"`
}

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

// Client calls the VPN API on netctl's socket.
type Client struct {
	c *localapi.Client
}

// NewClient returns a client for netctl's socket.
func NewClient() *Client { return &Client{c: localapi.NewClient("netctl")} }

// NewClientWith wraps an existing transport (another socket, or the web
// service's proxy).
func NewClientWith(c *localapi.Client) *Client { return &Client{c: c} }

// Status fetches the tunnel's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.c.Get(ctx, apiPrefix+"status", &st)
	return st, err
}

// SetCredentials stores a passphrase and/or login.
func (c *Client) SetCredentials(ctx context.Context, cr Credentials) (Status, error) {
	var st Status
	err := c.c.Post(ctx, apiPrefix+"credentials", cr, &st)
	return st, err
}

// Reconnect makes the tunnel reconnect now.
func (c *Client) Reconnect(ctx context.Context) (Status, error) {
	var st Status
	err := c.c.Post(ctx, apiPrefix+"reconnect", struct{}{}, &st)
	return st, err
}

// Import uploads a profile (.ovpn, or a tar/zip with its files), with
// optional credentials checked in the same step.
func (c *Client) Import(ctx context.Context, r io.Reader, filename string, cr Credentials) (ProfileInfo, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("profile", filename)
	if err != nil {
		return ProfileInfo{}, err
	}
	if _, err := io.Copy(fw, io.LimitReader(r, MaxUploadSize+1)); err != nil {
		return ProfileInfo{}, fmt.Errorf("read %s: %w", filename, err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"passphrase", cr.Passphrase}, {"username", cr.Username}, {"password", cr.Password}} {
		if f.v != nil {
			mw.WriteField(f.name, *f.v)
		}
	}
	if err := mw.Close(); err != nil {
		return ProfileInfo{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.c.Base+apiPrefix+"import?filename="+url.QueryEscape(filename), &body)
	if err != nil {
		return ProfileInfo{}, err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if c.c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.c.Token)
	}
	resp, err := c.c.HTTP.Do(req)
	if err != nil {
		return ProfileInfo{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return ProfileInfo{}, err
	}
	if resp.StatusCode >= 300 {
		var e localapi.Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return ProfileInfo{}, errors.New(e.Error)
		}
		return ProfileInfo{}, fmt.Errorf("vpn import: %s", resp.Status)
	}
	var res ImportResult
	if err := json.Unmarshal(data, &res); err != nil {
		return ProfileInfo{}, fmt.Errorf("vpn import: bad answer: %w", err)
	}
	return res.Profile, nil
}
