package web

import (
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// The guard runs before every handler. Browsers on the LAN open pages of
// other origins; those pages can send requests to the box (no-cors fetch,
// forms) and can even make their own DNS name point at the box (DNS
// rebinding), so that the browser treats the box as their origin. Three
// checks stop that: the Host a request names must be the box's own; a
// state change must come from the box's own origin; and JSON endpoints
// take only application/json, which no cross-origin page can send
// without a CORS preflight that this server never grants.

var (
	errForeignHost   = errors.New("this box does not answer to that host name: open it by its address (for example https://192.168.1.1/) or by a name set in web.host_names")
	errCrossOrigin   = errors.New("request from another web site refused: use the box's own pages")
	errNotJSON       = errors.New("send the body as application/json")
	errPlainHTTPOnly = errors.New("plain HTTP serves only /healthz and the start page: use HTTPS")
)

// uploadType: what an upload path takes besides JSON. A browser's form
// (multipart) carries the CSRF token; a raw body (edgectl streams a bundle
// as octet-stream) is a type no cross-site page can send without a CORS
// preflight, which this server never grants. text/plain and url-encoded
// forms, which a foreign page can send, stay refused.
var uploadType = map[string]bool{"multipart/form-data": true, "application/octet-stream": true}

// uploadPaths take multipart forms (files) or raw bodies instead of JSON.
var uploadPaths = map[string]bool{
	"/api/v1/restore":          true,
	"/api/v1/vpn/profile":      true,
	"/api/v1/firmware":         true,
	"/api/v1/firmware/inspect": true, // the start of a bundle, before installing it
	"/api/v1/config":           true, // PUT of a whole config file
	"/api/v1/config/validate":  true,
}

// guard applies the Host, Origin and content-type rules (see above).
// Requests over web's own unix socket (root on the box) skip it.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isTrusted(r) {
			h.ServeHTTP(w, r)
			return
		}
		// A reload may have taken an interface off the list: its open
		// keep-alive connections end here.
		if iface, ok := ingressFrom(r); ok && !s.policy.AllowedInterface(iface) {
			s.refuse(w, r, http.StatusForbidden, errNotLAN)
			return
		}
		if !s.ownHost(r.Host) {
			s.refuse(w, r, http.StatusMisdirectedRequest, errForeignHost)
			return
		}
		if !isSafeMethod(r.Method) {
			if !sameOrigin(r) {
				s.refuse(w, r, http.StatusForbidden, errCrossOrigin)
				return
			}
			if strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/v1/local/") && hasBody(r) {
				mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if mt != "application/json" && !(uploadPaths[r.URL.Path] && uploadType[mt]) {
					s.refuse(w, r, http.StatusUnsupportedMediaType, errNotJSON)
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	s.metrics.guard.WithLabelValues(http.StatusText(status)).Inc()
	if strings.HasPrefix(r.URL.Path, "/api/") || r.Method != http.MethodGet {
		apiError(w, status, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, err.Error(), status)
}

func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || r.ContentLength == -1 && len(r.TransferEncoding) > 0
}

// sameOrigin reports whether a state change comes from the box's own
// pages: Origin (sent by every current browser on POST) must name this
// host and scheme; without Origin, Sec-Fetch-Site must not say
// cross-site. Requests with neither come from programs (curl, edgectl),
// which carry their own credentials and no ambient cookie.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if o := r.Header.Get("Origin"); o != "" {
		if o == "null" {
			// Our Referrer-Policy (no-referrer) makes browsers send
			// "null" for the box's own form posts; Sec-Fetch-Site, which
			// no page can set, tells those from sandboxed foreign frames.
			return site == "same-origin"
		}
		u, err := url.Parse(o)
		if err != nil {
			return false
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
	}
	switch site {
	case "", "same-origin", "none":
		return true
	}
	return false
}

// ownHost reports whether host (a Host header, maybe with a port) names
// this box: one of its addresses, its host name (also with .local or
// .lan), edgebox.lan and box.lan (the LAN DNS's fixed names), localhost,
// or a name the admin listed in web.host_names. An IP
// literal cannot be rebound, so any address of the box is fine.
func (s *Server) ownHost(host string) bool {
	if host == "" {
		return false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return s.policy.Own(a)
	}
	host = strings.ToLower(host)
	for _, n := range s.hostNames() {
		if host == n {
			return true
		}
	}
	return false
}

// hostNames are the names the box answers to.
func (s *Server) hostNames() []string {
	// The LAN's DNS on the box answers these fixed names (README); no
	// page outside the LAN can make a browser use them as its origin.
	names := []string{"localhost", "edgebox", "edgebox.lan", "edgebox.local", "box.lan"}
	add := func(n string) {
		if n = strings.ToLower(strings.TrimSuffix(n, ".")); n != "" {
			names = append(names, n, n+".local", n+".lan")
		}
	}
	add(s.opt.Hostname)
	if cfg, err := s.loadConfig(); err == nil {
		add(cfg.System.Hostname)
		for _, n := range cfg.Web.HostNames {
			names = append(names, strings.ToLower(strings.TrimSuffix(n, ".")))
		}
	}
	return names
}

// plainHTTP is the policy for unencrypted HTTP: only /healthz, the start
// page (certificate fingerprint and a link to HTTPS) and its stylesheet.
// Passwords and the API never travel in clear text.
func (s *Server) plainHTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/" || p == "/healthz" || strings.HasPrefix(p, "/static/"):
			h.ServeHTTP(w, r)
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.HasPrefix(p, "/api/") && p != "/metrics" && s.ownHost(r.Host):
			http.Redirect(w, r, s.httpsURL(r), http.StatusFound)
		default:
			apiError(w, http.StatusForbidden, errPlainHTTPOnly)
		}
	})
}
