package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

const (
	sessionCookie = "edgebox_session"
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// session is one logged-in browser. Sessions live in memory only: a
// restart of the web service logs everybody out, which is acceptable on a
// box that restarts rarely and keeps no session secrets on flash.
type session struct {
	id      string
	csrf    string
	expires time.Time // idle end, moved on by each request
	ends    time.Time // absolute end, fixed at login
	// born and seen are the login and the last request on the monotonic
	// clock, which a correction of the wall clock does not move.
	born, seen time.Time
}

// sessions is the set of logged-in browsers. A session ends after idle
// without a request, and in any case maxAge after the login, so a stolen
// cookie kept alive by a script does not last for ever.
type sessions struct {
	idle, maxAge time.Duration
	now          func() time.Time
	since        func(time.Time) time.Duration // monotonic time passed (tests replace it)

	mu  sync.Mutex
	all map[string]*session
	// ended says why recent sessions ended, by id, for the page that still
	// sends the cookie: its password prompt tells the truth.
	ended map[string]string
}

func newSessions(idle, maxAge time.Duration, now func() time.Time) *sessions {
	return &sessions{idle: idle, maxAge: maxAge, now: now, since: time.Since, all: map[string]*session{}, ended: map[string]string{}}
}

func (s *sessions) create() *session {
	now := s.now()
	mono := time.Now()
	se := &session{id: randomString(32), csrf: randomString(32), expires: now.Add(s.idle), ends: now.Add(s.maxAge), born: mono, seen: mono}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.all { // drop expired ones so the map stays small
		if why := s.whyOver(o, now); why != "" {
			s.endLocked(o, why)
		}
	}
	if len(s.all) >= 1000 {
		for id := range s.all { // refuse to grow without bound: evict one
			delete(s.all, id)
			break
		}
	}
	s.all[se.id] = se
	return se
}

// Why a session ended, as the password prompt says it.
const (
	endedIdle    = "Your login ended after %d minutes without use."
	endedMaxAge  = "Your login ended %d hours after it began, the longest a login lasts."
	endedClock   = "Your login ended because the box's clock was corrected."
	endedUnknown = "Your login has ended (the box's web service restarted, or the login was ended elsewhere)."
	endedPasswd  = "Your login ended because the admin password was changed."
)

// whyOver is why se has ended at now, or "". A session whose ends lie
// further ahead than its own life allows was made under a clock that was
// wrong and has been set back (a flat RTC's garbage, a bad NTP answer, at
// the login): it would have lived until that wrong year, a stolen cookie
// with it, so it ends (the page asks for the password in place). The hour
// of slack lets ordinary NTP steps pass. A wall clock set forward (by
// NTP, or from the phone) passes the idle end too: that it was the clock,
// not the admin's absence, shows on the monotonic clock.
func (s *sessions) whyOver(se *session, now time.Time) string {
	const slack = time.Hour
	switch {
	case se.expires.Sub(now) > s.idle+slack || se.ends.Sub(now) > s.maxAge+slack:
		return endedClock
	case !now.After(se.expires) && !now.After(se.ends):
		return ""
	case s.since(se.seen) < s.idle && s.since(se.born) < s.maxAge:
		return endedClock
	case now.After(se.ends):
		return fmt.Sprintf(endedMaxAge, int(s.maxAge.Round(time.Hour)/time.Hour))
	}
	return fmt.Sprintf(endedIdle, int(s.idle.Round(time.Minute)/time.Minute))
}

// over reports whether se has ended at now.
func (s *sessions) over(se *session, now time.Time) bool { return s.whyOver(se, now) != "" }

// whyEnded is why the session r's cookie names has ended, or "" when r
// comes from no login at all. A page of a login whose cookie the browser
// no longer sends still carries the page's CSRF token.
func (s *sessions) whyEnded(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		if r.Header.Get(csrfHeader) != "" {
			return endedUnknown
		}
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if why := s.ended[c.Value]; why != "" {
		return why
	}
	return endedUnknown
}

// endLocked drops se, keeping why it ended (a bounded record).
func (s *sessions) endLocked(se *session, why string) {
	delete(s.all, se.id)
	if len(s.ended) >= 1000 {
		clear(s.ended)
	}
	s.ended[se.id] = why
}

// get returns the live session of r and extends its idle time, or nil.
func (s *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.all[c.Value]
	if se == nil {
		return nil
	}
	now := s.now()
	if why := s.whyOver(se, now); why != "" {
		s.endLocked(se, why)
		return nil
	}
	se.expires, se.seen = now.Add(s.idle), time.Now()
	cp := *se
	return &cp
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.all, id)
}

func (s *sessions) dropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = map[string]*session{}
}

// endAll ends every session, keeping why for their pages' password
// prompts, and says how many were live.
func (s *sessions) endAll(why string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := s.now(), 0
	for _, se := range s.all {
		over := s.whyOver(se, now) // one already over ended for its own reason
		if over == "" {
			n, over = n+1, why
		}
		s.endLocked(se, over)
	}
	return n
}

// csrfOK checks the CSRF token a state-changing request carries in the
// X-CSRF-Token header or the csrf field of a url-encoded form. Never in
// the URL: URLs end up in logs, history and Referer headers.
func (se *session) csrfOK(r *http.Request) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" && r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" {
		got = r.PostFormValue(csrfField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, se *session) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: se.id, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// loginLimiter slows down password and token guessing per source: after
// maxFailures failed attempts a source waits lockout before it may try
// again. Nothing is global and nothing is per account, so guesses from
// other addresses never lock the admin out, and valid token calls are
// never counted. An IPv6 source is its /64: one host holds a whole /64.
type loginLimiter struct {
	maxFailures int
	lockout     time.Duration

	mu     sync.Mutex
	bySrc  map[netip.Prefix]*failures
	lastGC time.Time
}

type failures struct {
	count  int
	until  time.Time
	lastAt time.Time
}

func newLoginLimiter(maxFailures int, lockout time.Duration) *loginLimiter {
	return &loginLimiter{maxFailures: maxFailures, lockout: lockout, bySrc: map[netip.Prefix]*failures{}}
}

// sourceOf is the limiter's key for a client address: the address for
// IPv4, its /64 for IPv6.
func sourceOf(addr string) netip.Prefix {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}

// allow reports whether addr may try a password now, and if not how long
// it must still wait.
func (l *loginLimiter) allow(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if f := l.bySrc[sourceOf(addr)]; f != nil && now.Before(f.until) {
		return false, f.until.Sub(now)
	}
	return true, 0
}

// result records the outcome of an attempt from addr.
func (l *loginLimiter) result(addr string, ok bool) {
	src := sourceOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		delete(l.bySrc, src)
		return
	}
	now := time.Now()
	if now.Sub(l.lastGC) > time.Minute {
		l.lastGC = now
		for a, f := range l.bySrc {
			if now.Sub(f.lastAt) > 2*l.lockout && now.After(f.until) {
				delete(l.bySrc, a)
			}
		}
	}
	f := l.bySrc[src]
	if f == nil {
		if len(l.bySrc) >= 10000 {
			return
		}
		f = &failures{}
		l.bySrc[src] = f
	}
	f.count++
	f.lastAt = now
	if f.count >= l.maxFailures {
		f.until = now.Add(l.lockout)
		f.count = 0
	}
}
