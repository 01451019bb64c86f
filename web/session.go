package web

import (
	"crypto/subtle"
	"net/http"
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
	expires time.Time
}

// sessions is the set of logged-in browsers.
type sessions struct {
	idle time.Duration

	mu  sync.Mutex
	all map[string]*session
}

func newSessions(idle time.Duration) *sessions {
	return &sessions{idle: idle, all: map[string]*session{}}
}

func (s *sessions) create() *session {
	se := &session{id: randomString(32), csrf: randomString(32), expires: time.Now().Add(s.idle)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for id, o := range s.all { // drop expired ones so the map stays small
		if now.After(o.expires) {
			delete(s.all, id)
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

// get returns the live session of r and extends it, or nil.
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
	if time.Now().After(se.expires) {
		delete(s.all, se.id)
		return nil
	}
	se.expires = time.Now().Add(s.idle)
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

// csrfOK checks the CSRF token a state-changing request carries in the
// X-CSRF-Token header or the csrf form field.
func (se *session) csrfOK(r *http.Request) bool {
	got := r.Header.Get(csrfHeader)
	if got == "" {
		// Only url-encoded forms are parsed here; multipart uploads carry
		// the token in the header (the page's script sets it).
		if ct := r.Header.Get("Content-Type"); ct == "application/x-www-form-urlencoded" {
			got = r.PostFormValue(csrfField)
		} else {
			got = r.URL.Query().Get(csrfField)
		}
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

// loginLimiter slows down password guessing: after MaxFailures failed
// attempts from one address that address is locked out for Lockout; and
// all addresses together get at most globalPerMinute attempts, so that many
// addresses cannot guess in parallel.
type loginLimiter struct {
	maxFailures int
	lockout     time.Duration
	global      int

	mu        sync.Mutex
	byAddr    map[string]*failures
	windowAt  time.Time
	windowCnt int
}

type failures struct {
	count  int
	until  time.Time
	lastAt time.Time
}

func newLoginLimiter(maxFailures int, lockout time.Duration, globalPerMinute int) *loginLimiter {
	return &loginLimiter{maxFailures: maxFailures, lockout: lockout, global: globalPerMinute, byAddr: map[string]*failures{}}
}

// allow reports whether addr may try a password now.
func (l *loginLimiter) allow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if f := l.byAddr[addr]; f != nil && now.Before(f.until) {
		return false
	}
	if now.Sub(l.windowAt) > time.Minute {
		l.windowAt, l.windowCnt = now, 0
	}
	if l.windowCnt >= l.global {
		return false
	}
	l.windowCnt++
	return true
}

// result records the outcome of an attempt from addr.
func (l *loginLimiter) result(addr string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		delete(l.byAddr, addr)
		return
	}
	now := time.Now()
	for a, f := range l.byAddr {
		if now.Sub(f.lastAt) > 2*l.lockout && now.After(f.until) {
			delete(l.byAddr, a)
		}
	}
	f := l.byAddr[addr]
	if f == nil {
		if len(l.byAddr) >= 10000 {
			return
		}
		f = &failures{}
		l.byAddr[addr] = f
	}
	f.count++
	f.lastAt = now
	if f.count >= l.maxFailures {
		f.until = now.Add(l.lockout)
		f.count = 0
	}
}
