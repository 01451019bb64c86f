package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"edgebox/internal/localapi"
)

type ctxKey int

const sessionKey ctxKey = 1

// authKind says how a request proved it is the admin.
type authKind int

const (
	authNone authKind = iota
	authSession
	authToken
	authBasic
)

func slogErrorLog() *log.Logger {
	return slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// authenticate finds out whether r comes from the admin, and with which
// scope. It answers the error itself when the request must be refused
// (wrong credentials, lockout, missing CSRF token) and then returns
// ok=false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (kind authKind, scope Scope, se *session, ok bool) {
	if isTrusted(r) {
		return authToken, ScopeAdmin, nil, true
	}
	addr := clientAddr(r)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			// A valid token is never counted nor slowed down: only
			// failures count, against their source.
			if sc, good := s.accounts.CheckToken(strings.TrimSpace(cred)); good {
				return authToken, sc, nil, true
			}
			if ok, wait := s.limiter.allow(addr); !ok {
				apiError(w, http.StatusTooManyRequests, lockedOut(wait))
				return authNone, "", nil, false
			}
			s.limiter.result(addr, false)
			apiError(w, http.StatusUnauthorized, errors.New("invalid or expired API token: create one on the Admin page or with POST /api/v1/tokens"))
			return authNone, "", nil, false
		case "basic":
			// Browsers send basic credentials on their own only after a
			// WWW-Authenticate challenge, which this server never sends;
			// still refuse cross-site requests so basic auth cannot be
			// used for CSRF.
			if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
				apiError(w, http.StatusForbidden, errors.New("cross-site request refused"))
				return authNone, "", nil, false
			}
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
			user, pass, found := strings.Cut(string(raw), ":")
			if err != nil || !found {
				apiError(w, http.StatusUnauthorized, errors.New("malformed basic credentials"))
				return authNone, "", nil, false
			}
			if !s.accounts.HasAdmin() {
				apiError(w, http.StatusConflict, errNoAdmin)
				return authNone, "", nil, false
			}
			if ok, wait := s.limiter.allow(addr); !ok {
				apiError(w, http.StatusTooManyRequests, lockedOut(wait))
				return authNone, "", nil, false
			}
			good := s.accounts.Check(user, pass)
			s.limiter.result(addr, good)
			if !good {
				apiError(w, http.StatusUnauthorized, s.badLogin())
				return authNone, "", nil, false
			}
			return authBasic, ScopeAdmin, nil, true
		default:
			apiError(w, http.StatusUnauthorized, errors.New("unsupported Authorization scheme: use Bearer TOKEN"))
			return authNone, "", nil, false
		}
	}
	se = s.sessions.get(r)
	if se == nil {
		return authNone, "", nil, true
	}
	if !isSafeMethod(r.Method) && !se.csrfOK(r) {
		apiError(w, http.StatusForbidden, errors.New("missing or wrong CSRF token: reload the page and try again"))
		return authNone, "", nil, false
	}
	return authSession, ScopeAdmin, se, true
}

// api wraps a JSON API handler that needs the admin with at least scope
// need. The caller's scope is in the context (ScopeOf).
func (s *Server) api(need Scope, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		kind, scope, se, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if kind == authNone {
			if !s.accounts.HasAdmin() {
				apiError(w, http.StatusUnauthorized, errNoAdmin)
				return
			}
			if why := s.sessions.whyEnded(r); why != "" {
				apiError(w, http.StatusUnauthorized, errors.New(why)) // the page's password prompt says it
				return
			}
			apiError(w, http.StatusUnauthorized, errors.New("log in or send Authorization: Bearer TOKEN"))
			return
		}
		if !scope.Allows(need) {
			apiError(w, http.StatusForbidden, errScope(scope, need))
			return
		}
		ctx := context.WithValue(r.Context(), scopeKey, scope)
		if se != nil {
			ctx = context.WithValue(ctx, sessionKey, se)
		}
		h(w, r.WithContext(ctx))
	}
}

// read, operate and admin wrap handlers by the scope they need.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc    { return s.api(ScopeRead, h) }
func (s *Server) operate(h http.HandlerFunc) http.HandlerFunc { return s.api(ScopeOperate, h) }
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc   { return s.api(ScopeAdmin, h) }

// lockedOut says how long a source must wait before its next attempt.
func lockedOut(wait time.Duration) error {
	sec := int(wait.Round(time.Second) / time.Second)
	if sec < 1 {
		sec = 1
	}
	return fmt.Errorf("too many failed attempts from your address: wait %d s and try again (if the password is lost, reset it at the box: see the login page)", sec)
}

func sessionOf(r *http.Request) *session {
	se, _ := r.Context().Value(sessionKey).(*session)
	return se
}

// apiError answers a JSON error.
func apiError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Cache-Control", "no-store")
	localapi.WriteError(w, status, errors.New(trMessage(langOfWriter(w), plainWords(err.Error()))))
}

func apiJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	localapi.WriteJSON(w, status, v)
}

// securityHeaders are sent with every answer.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.ServeHTTP(&langWriter{ResponseWriter: w, lang: langOf(r)}, r)
	})
}

// httpsURL is where r goes over HTTPS on this box. Over plain HTTP that
// is the same host and port the browser used (the HTTP port answers
// HTTPS too: sniff.go), so it is right behind port forwarding as well.
func (s *Server) httpsURL(r *http.Request) string {
	host := r.Host
	if r.TLS != nil || host == "" {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		_, port, _ := net.SplitHostPort(s.opt.HTTPSAddr)
		if port != "" && port != "443" {
			host += ":" + port
		}
	}
	u := "https://" + host + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}
