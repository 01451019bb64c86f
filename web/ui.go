package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/internal/lazyregexp"
	"edgebox/internal/sysapi"
)

//go:embed ui/templates/*.html
var templateFS embed.FS

//go:embed ui/static
var staticFS embed.FS

var errNotFound = errors.New("no such API endpoint: see docs/openapi.yaml")

// page is what every template gets.
type page struct {
	Title       string
	Nav         string // which menu entry is current
	CSRF        string
	Authed      bool
	HasAdmin    bool
	TLS         bool
	HTTPSURL    string
	Fingerprint string
	// FingerprintShort is its first and last groups; QR the HTTPS
	// address as a QR code image (landing page only).
	FingerprintShort string
	QR               template.URL
	Hostname         string
	Version          string
	Refresh          int  // seconds; 0: static page
	Exposed          bool // web.expose_management is on: every page warns
	Data             any
	// Lang is the page's language (i18n.go); Path the page's path, for
	// the language links.
	Lang string
	Path string
}

var funcs = template.FuncMap{
	"ago":   ago,
	"clock": func(t time.Time) string { return t.Local().Format("15:04:05") },
	"dur":   func(sec float64) string { return humanDuration(time.Duration(sec) * time.Second) },
	"statePill": func(state string) string {
		switch state {
		case "running", "healthy", "connected", "registered", "ok", "ready", "home", "roaming", "up", "active":
			return "ok"
		case "starting", "waiting", "probing", "configuring", "registering", "connecting", "searching", "opening", "sim":
			return "info"
		case "backoff", "no-carrier", "disconnected", "absent", "stopped", "disabled", "pin-required", "":
			return "warn"
		}
		return "bad"
	},
	"bytes":     humanBytes,
	"add1":      func(i int) int { return i + 1 },
	"logline":   parseLogLine,
	"T":         tr,
	"jsstrings": jsCatalog,
	"langs":     func() any { return languages },
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return humanDuration(time.Since(t)) + " ago"
}

func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// templates holds one set per page (layout + page), each parsed when its
// page is first rendered: parsing them all took web's start about 10 ms of
// CPU on a PC (far more under QEMU's TCG, on the boot's path to /healthz)
// and kept every page's parse trees in the heap of a box whose pages
// nobody may open for days. The set of pages is known at start.
type templates map[string]func() (*template.Template, error)

// templatesParsed counts the page sets parsed (a test checks that start
// parses none).
var templatesParsed atomic.Int64

func parseTemplates() (templates, error) {
	t := templates{}
	pages, err := fs.Glob(templateFS, "ui/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "ui/templates/"), ".html")
		if name == "layout" {
			continue
		}
		t[name] = sync.OnceValues(func() (*template.Template, error) {
			templatesParsed.Add(1)
			tt, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "ui/templates/layout.html", p)
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", name, err)
			}
			return tt, nil
		})
	}
	return t, nil
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	parse := s.tmpl[name]
	if parse == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	t, err := parse()
	if err != nil { // the embedded templates are checked by TestEveryPageTemplateParses
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "page failed to render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	p.TLS = r.TLS != nil
	p.Lang, p.Path = langOf(r), r.URL.Path
	p.Fingerprint = s.cert.Fingerprint
	p.Hostname = s.opt.Hostname
	p.Version = s.opt.Version
	p.HasAdmin = s.accounts.HasAdmin()
	p.HTTPSURL = s.httpsURL(r)
	p.FingerprintShort = shortFingerprint(s.cert.Fingerprint)
	if name == "landing" {
		p.QR = qrDataURI(p.HTTPSURL)
	}
	if cfg, err := s.loadConfig(); err == nil && p.Authed {
		p.Exposed = cfg.Web.ExposeManagement || cfg.Exposures() != nil
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "page failed to render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageAuth lets a page through for a logged-in admin (with a session, since
// pages need a CSRF token); else it sends the browser where it must go:
// first-boot setup or login.
func (s *Server) pageAuth(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.accounts.HasAdmin() {
			http.Redirect(w, r, "/setup", http.StatusSeeOther)
			return
		}
		se := s.sessions.get(r)
		if se == nil {
			http.Redirect(w, r, "/login?next="+urlQueryEscape(r.URL.Path), http.StatusSeeOther)
			return
		}
		h(w, r, se)
	}
}

func urlQueryEscape(p string) string {
	return template.URLQueryEscaper(safeNext(p))
}

// localPath is what a page of this box looks like. Browsers drop tabs
// and newlines from URLs and read '\\' as '/', so "/\t/evil.example"
// becomes "//evil.example", another site: only plain characters pass.
var localPath = lazyregexp.New(`^/[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$`)

// safeNext is where a login may send the browser: a page of this box,
// else the dashboard.
func safeNext(next string) string {
	if !localPath.MatchString(next) {
		return "/dashboard"
	}
	return next
}

func (s *Server) uiRoutes(m *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "ui/static")
	fsrv := http.StripPrefix("/static/", http.FileServerFS(static))
	m.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		fsrv.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /{$}", s.pageRoot)
	m.HandleFunc("GET /lang/{code}", s.pageLang)
	m.HandleFunc("GET /setup", s.pageSetup)
	m.HandleFunc("GET /login", s.pageLogin)
	m.HandleFunc("GET /reset", s.pageReset)
	m.HandleFunc("POST /logout", s.pageAuth(s.pageLogout))
	m.HandleFunc("GET /dashboard", s.pageAuth(s.pageDashboard))
	m.HandleFunc("GET /wizard/{step}", s.pageAuth(s.pageWizard))
	m.HandleFunc("GET /wizard", s.pageAuth(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, "/wizard/"+wizardSteps[0].ID, http.StatusSeeOther)
	}))
	m.HandleFunc("GET /logs", s.pageAuth(s.pageLogs))
	m.HandleFunc("GET /sms", s.pageAuth(s.pageSMS))
	m.HandleFunc("GET /gsm", s.pageAuth(s.pageGSM)) // gsm.go
	m.HandleFunc("GET /signal", s.pageAuth(s.pageSignal))
	m.HandleFunc("GET /admin", s.pageAuth(s.pageAdmin))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "message", page{Title: "Not found", Data: trf(langOf(r), "There is no page at %s: check the address, or go to the start page.", r.URL.Path)})
	})
}

// pageRoot: over plain HTTP the LAN landing page (certificate fingerprint,
// first-boot form); over HTTPS wherever the admin should be.
func (s *Server) pageRoot(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		s.render(w, r, http.StatusOK, "landing", page{Title: "Welcome"})
		return
	}
	switch {
	case !s.accounts.HasAdmin():
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
	case s.sessions.get(r) == nil:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	default:
		http.Redirect(w, r, s.homePage(), http.StatusSeeOther)
	}
}

func (s *Server) pageSetup(w http.ResponseWriter, r *http.Request) {
	if s.accounts.HasAdmin() {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "setup", page{Title: "Set the admin password"})
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) {
	if !s.accounts.HasAdmin() {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	next := r.URL.Query().Get("next")
	if next == "" {
		next = s.homePage()
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: safeNext(next)})
}

func (s *Server) pageReset(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "reset", page{Title: "Reset the admin password"})
}

func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request, se *session) {
	if !se.csrfOK(r) {
		http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
		return
	}
	s.sessions.drop(se.id)
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) authedPage(se *session, title, nav string, data any) page {
	return page{Title: title, Nav: nav, CSRF: se.csrf, Authed: true, Data: data}
}

// logsView is a service's recent log for the logs page and dashboard.
type logsView struct {
	Services []string
	Service  string
	Lines    []sysapi.LogLine
	Error    string
}

func (s *Server) recentLogs(r *http.Request, name string, n int) logsView {
	v := logsView{Service: name}
	st, err := s.initClient().Status(r.Context())
	if err != nil {
		v.Error = "init is not reachable: service list and logs are not available."
		return v
	}
	for _, sv := range st.Services {
		v.Services = append(v.Services, sv.Name)
	}
	sort.Strings(v.Services)
	if v.Service == "" && len(v.Services) > 0 {
		// netctl's log tells most about a box that is being set up.
		v.Service = v.Services[0]
		for _, n := range v.Services {
			if n == "netctl" {
				v.Service = n
			}
		}
	}
	if v.Service == "" {
		return v
	}
	if !serviceName.MatchString(v.Service) {
		v.Error = tr(langOf(r), "No such service.")
		return v
	}
	lines, err := s.initClient().Logs(r.Context(), v.Service, 0, n)
	if err != nil {
		v.Error = trf(langOf(r), "Logs of %s are not available: %s", v.Service, plainWords(err.Error()))
		return v
	}
	// Newest first reads best on a phone.
	for i, j := 0, len(lines)-1; i < j; i, j = i+1, j-1 {
		lines[i], lines[j] = lines[j], lines[i]
	}
	v.Lines = lines
	return v
}

func (s *Server) pageLogs(w http.ResponseWriter, r *http.Request, se *session) {
	v := s.recentLogs(r, r.URL.Query().Get("service"), 300)
	p := s.authedPage(se, "Logs", "logs", v)
	p.Refresh = 10
	s.render(w, r, http.StatusOK, "logs", p)
}

type adminView struct {
	Tokens []TokenInfo
	// Version is the installed firmware's (init's, else web's own).
	Version string
	// TestURL is the internet test's default (the portal's public URL);
	// VPNTarget the tunnel address the VPN test pings ("" without a tunnel).
	TestURL, VPNTarget string
}

func (s *Server) pageAdmin(w http.ResponseWriter, r *http.Request, se *session) {
	v := adminView{Tokens: s.accounts.Tokens(), Version: s.opt.Version}
	st := s.status(r.Context())
	if st.System != nil && st.System.Version != "" {
		v.Version = st.System.Version
	}
	if st.VPN != nil {
		v.VPNTarget = vpnServerGuess(st.VPN.TunnelAddress)
	}
	if cfg, err := s.loadConfig(); err == nil {
		v.TestURL = cfg.Gateway.Portal.PublicURL
	}
	s.render(w, r, http.StatusOK, "admin", s.authedPage(se, "Admin", "admin", v))
}
