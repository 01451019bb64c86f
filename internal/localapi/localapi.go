// Package localapi is the transport every box service uses for its JSON API:
// HTTP over a unix socket under /run/edgebox, reachable only by root. The
// request and response types of each API live with the service that serves
// them; this package only moves them.
package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"edgebox/internal/paths"
)

// Error is the body of every failed API call.
type Error struct {
	Error string `json:"error"`
}

// Listen opens the unix socket for service name, replacing a stale one, and
// restricts it to root (mode 0600).
func Listen(name string) (net.Listener, error) {
	return ListenPath(paths.Socket(name))
}

// ListenPath is Listen for an explicit socket path.
func ListenPath(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve runs h on l until ctx ends.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// WriteJSON writes v as the JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// WriteError writes a JSON error a person can act on.
func WriteError(w http.ResponseWriter, status int, err error) {
	WriteJSON(w, status, Error{Error: err.Error()})
}

// maxBody bounds request bodies of the local APIs.
const maxBody = 1 << 20

// ReadJSON decodes a request body into v, refusing unknown fields and
// oversized bodies.
func ReadJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}

// Client calls one service's API.
type Client struct {
	// Base is "http://unix" for a socket, or an https:// URL of the web
	// service's proxy when edgectl runs on an admin's laptop.
	Base  string
	Token string // bearer token for remote use
	HTTP  *http.Client
}

// NewClient returns a client for service name's unix socket.
func NewClient(name string) *Client {
	return NewClientPath(paths.Socket(name))
}

// NewClientPath returns a client for the unix socket at path.
func NewClientPath(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}
	return &Client{Base: "http://unix", HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Get fetches path and decodes the JSON answer into out (if non-nil).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Post sends in as JSON to path and decodes the answer into out.
func (c *Client) Post(ctx context.Context, path string, in, out any) error {
	return c.Do(ctx, http.MethodPost, path, in, out)
}

// Do performs one API call.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s", e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := w.Write(data)
		return err
	}
	return json.Unmarshal(data, out)
}
