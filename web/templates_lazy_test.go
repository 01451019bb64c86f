package web

import (
	"net/http"
	"testing"
)

// TestEveryPageTemplateParses parses every page's set: they are parsed
// when first rendered, so a broken template would otherwise show only
// when someone opens its page.
func TestEveryPageTemplateParses(t *testing.T) {
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"landing", "setup", "login", "dashboard", "wizard", "logs", "admin"} {
		if tmpl[name] == nil {
			t.Errorf("no template for page %s", name)
		}
	}
	for name, parse := range tmpl {
		if _, err := parse(); err != nil {
			t.Errorf("page %s: %v", name, err)
		}
	}
}

// TestWebStartParsesNoTemplate: web's start (on the boot's path to
// /healthz) parses no page; the first view of a page parses its set once.
func TestWebStartParsesNoTemplate(t *testing.T) {
	before := templatesParsed.Load()
	e := newTestEnv(t, false, Options{})
	if n := templatesParsed.Load() - before; n != 0 {
		t.Fatalf("web's start parsed %d page templates", n)
	}
	for range 2 {
		rec := newRecorder()
		e.srv.Handler().ServeHTTP(rec, httpRequestTLS("GET", "/setup", ""))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /: %d %s", rec.Code, rec.Body)
		}
	}
	if n := templatesParsed.Load() - before; n != 1 {
		t.Fatalf("two views of the setup page parsed %d page templates, want 1", n)
	}
}
