package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"edgebox/internal/paths"
)

// The local-API proxy lets an admin's edgectl reach every service's unix
// socket API over the VPN: /api/v1/local/NAME/PATH is forwarded to
// /run/edgebox/NAME.sock as PATH. Only admins pass, and only sockets that
// exist under the run directory can be named.

const trustedKey ctxKey = 2

// trusted marks requests that came in over web's own unix socket, which
// only root can open: they act as the admin without credentials.
func trusted(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), trustedKey, true)))
	})
}

func isTrusted(r *http.Request) bool {
	v, _ := r.Context().Value(trustedKey).(bool)
	return v
}

// localSockets lists the service sockets under the run directory.
func localSockets() []string {
	m, _ := filepath.Glob(filepath.Join(paths.RunDir(), "*.sock"))
	var out []string
	for _, p := range m {
		name := strings.TrimSuffix(filepath.Base(p), ".sock")
		if serviceName.MatchString(name) && name != "web" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) handleLocalList(w http.ResponseWriter, r *http.Request) {
	apiJSON(w, http.StatusOK, localSockets())
}

func (s *Server) handleLocalProxy(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("service")
	if !serviceName.MatchString(name) || name == "web" {
		apiError(w, http.StatusBadRequest, errors.New("not a service name"))
		return
	}
	sock := paths.Socket(name)
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		apiError(w, http.StatusServiceUnavailable, errors.New(name+" is not available on this box (no API socket)"))
		return
	}
	rest := "/" + r.PathValue("path")
	if strings.Contains(rest, "/../") || strings.HasSuffix(rest, "/..") {
		apiError(w, http.StatusBadRequest, errors.New("bad path"))
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = &url.URL{Scheme: "http", Host: "unix", Path: rest, RawQuery: r.URL.RawQuery}
			pr.Out.Host = "unix"
			// Credentials are for the web service only.
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del(csrfHeader)
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			apiError(w, http.StatusBadGateway, errors.New(name+" did not answer: "+plainWords(err.Error())))
		},
		FlushInterval: -1,
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<20)
	rp.ServeHTTP(w, r)
}
