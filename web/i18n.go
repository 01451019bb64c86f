package web

import (
	"context"
	"edgebox/internal/lazyregexp"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Languages: the English text in templates and Go is the key; each other
// language is one file, ui/lang/CODE.json, mapping English to it. A
// missing entry shows the English. Add a language by adding its file
// and its name to languages.

//go:embed ui/lang/*.json
var langFS embed.FS

// languages are the choices in the footer, by code.
var languages = []struct{ Code, Name string }{{"en", "English"}, {"de", "Deutsch"}}

// catalogs are the languages' tables by code, read at first use: every
// service is the one binary and would otherwise parse them at its start.
var catalogs = sync.OnceValue(loadCatalogs)

func loadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range languages {
		b, err := langFS.ReadFile("ui/lang/" + l.Code + ".json")
		if err != nil {
			continue
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic("ui/lang/" + l.Code + ".json: " + err.Error())
		}
		out[l.Code] = m
	}
	return out
}

// jsStrings are the texts app.js shows: every literal it passes to t(),
// read from the embedded script itself (at first use), so a message added
// there is handed over translated (ui-strings) without a second list to keep.
var jsStrings = sync.OnceValue(scriptStrings)

// jsLiteral is t("…") in app.js.
var jsLiteral = lazyregexp.New(`\bt\(("(?:[^"\\]|\\.)*")\)`)

func scriptStrings() []string {
	b, err := staticFS.ReadFile("ui/static/app.js")
	if err != nil {
		panic("ui/static/app.js: " + err.Error())
	}
	var out []string
	for _, m := range jsLiteral.FindAllStringSubmatch(string(b), -1) {
		var s string
		if err := json.Unmarshal([]byte(m[1]), &s); err != nil {
			panic("ui/static/app.js: " + m[1] + ": " + err.Error())
		}
		out = append(out, s)
	}
	return out
}

func jsCatalog(lang string) map[string]string {
	m := map[string]string{}
	for _, k := range jsStrings() {
		m[k] = tr(lang, k)
	}
	return m
}

// tr is s in lang, or s itself.
func tr(lang, s string) string {
	if t, ok := catalogs()[lang][s]; ok && t != "" {
		return t
	}
	return s
}

// stateWords are the states the services report and the pages show, in
// pills and sentences (netctl's uplinks and modem, the SIM, the network
// registration, openvpn's states in lower case, init's services, the
// trunk's registration kinds): the catalogs translate them like any text.
var stateWords = []string{
	"healthy", "no-carrier", "absent", "configuring", "probing", "failed", "disabled",
	"opening", "sim", "registering", "connecting", "connected", "disconnected", "faulty",
	"ready", "pin-required", "puk-required", "busy", "error", "unknown",
	"home", "roaming", "searching", "denied", "not-registered",
	"no profile", "waiting for uplink", "starting", "needs passphrase", "needs login", "restarting",
	"stopped", "reconnecting", "wait", "auth", "get config", "assign ip", "add routes", "exiting",
	"resolve", "tcp connect", "auth pending",
	"waiting", "running", "backoff",
	"registered", "rejected", "unreachable", "refused", "timeout", "self",
}

// trf is a sentence Go builds, in lang: format is its English with verbs
// where the values go, and the catalog key; the values (names, addresses,
// figures, what a service said) are shown as they are. Words among them
// that have a translation (a state) go through tr first.
func trf(lang, format string, args ...any) string {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = plainIn(lang, s) // what plainWords made of an error
		}
	}
	return fmt.Sprintf(tr(lang, format), args...)
}

type langKey struct{}

// withLang carries the request's language to code that builds sentences
// far from the request (the config checks behind applyConfig).
func withLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, langKey{}, lang)
}

// langIn is the language withLang put in ctx, else English.
func langIn(ctx context.Context) string {
	if l, ok := ctx.Value(langKey{}).(string); ok {
		return l
	}
	return "en"
}

// langOf is the page language: the "lang" cookie (the footer's choice),
// else the browser's first supported language, else English.
func langOf(r *http.Request) string {
	if c, err := r.Cookie("lang"); err == nil && catalogs()[c.Value] != nil {
		return c.Value
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		code := strings.ToLower(strings.TrimSpace(part))
		code, _, _ = strings.Cut(code, ";")
		code, _, _ = strings.Cut(code, "-")
		if code == "en" || catalogs()[code] != nil {
			return code
		}
	}
	return "en"
}

// pageLang sets the language cookie and goes back to the page.
func (s *Server) pageLang(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if code != "en" && catalogs()[code] == nil {
		http.Error(w, "no such language", http.StatusNotFound)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "lang", Value: code, Path: "/", MaxAge: 365 * 24 * 3600, Secure: r.TLS != nil, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, safeBack(r.URL.Query().Get("back")), http.StatusSeeOther)
}

func safeBack(p string) string {
	if p == "/" || localPath.MatchString(p) {
		return p
	}
	return "/"
}
