package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The password prompt of a page whose login ended says why, truly: it
// said "after an hour without use" whatever happened, also when the
// session was ended by a corrected clock (set forward from the phone or
// by NTP, minutes after the login), by its 12-hour limit, or with a
// different idle time configured.
func TestLoginEndedSaysWhy(t *testing.T) {
	wall := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var passed time.Duration // on the monotonic clock
	s := newSessions(30*time.Minute, 12*time.Hour, func() time.Time { return wall })
	s.since = func(time.Time) time.Duration { return passed }
	ask := func(se *session) string {
		r := cookieRequest(se.id)
		if s.get(r) != nil {
			return ""
		}
		return s.whyEnded(r)
	}
	for _, c := range []struct {
		name       string
		wall, mono time.Duration
		want       string
		wantGerman string
	}{
		{"idle", 31 * time.Minute, 31 * time.Minute, "after 30 minutes without use", "nach 30 Minuten ohne Nutzung"},
		{"clock set forward", 3 * 24 * time.Hour, 2 * time.Minute, "clock was corrected", "Uhr der Box korrigiert"},
		{"clock set back", -2 * 365 * 24 * time.Hour, 2 * time.Minute, "clock was corrected", "Uhr der Box korrigiert"},
	} {
		wall, passed = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), 0
		se := s.create()
		wall, passed = wall.Add(c.wall), c.mono
		got := ask(se)
		if !strings.Contains(got, c.want) || strings.Contains(got, "hour without use") {
			t.Errorf("%s: %q, want %q in it", c.name, got, c.want)
		}
		if de := trMessage("de", got); !strings.Contains(de, c.wantGerman) {
			t.Errorf("%s in German: %q", c.name, de)
		}
	}
	// kept alive by use, it still ends at 12 hours
	wall, passed = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), 0
	se := s.create()
	for range 25 {
		wall, passed = wall.Add(29*time.Minute), passed+29*time.Minute
		if ask(se) != "" {
			break
		}
	}
	if got := s.whyEnded(cookieRequest(se.id)); !strings.Contains(got, "12 hours after it began") {
		t.Errorf("max age: %q", got)
	}
	// a cookie the box does not know (its web service restarted) claims nothing
	if got := s.whyEnded(cookieRequest("unknown")); got != endedUnknown {
		t.Errorf("unknown cookie: %q", got)
	}
	if got := s.whyEnded(httptest.NewRequest("GET", "/", nil)); got != "" {
		t.Errorf("no cookie: %q", got)
	}
	// a page of a login whose cookie the browser dropped: not "log in
	// or send Authorization: Bearer TOKEN" above the password field
	r := httptest.NewRequest("GET", "/api/v1/status", nil)
	r.Header.Set(csrfHeader, "token-of-the-page")
	if got := s.whyEnded(r); got != endedUnknown {
		t.Errorf("page without its cookie: %q", got)
	}
}

func cookieRequest(id string) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/status", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: id})
	return r
}
