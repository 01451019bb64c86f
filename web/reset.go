package web

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"edgebox/api/webapi"
	"edgebox/internal/localapi"
)

// Password reset needs presence at the box. Anyone on the LAN may ask for
// a reset code, but the code is shown only where a person at the box can
// read it: written to the serial console (/dev/console, not stderr, which
// also feeds the logs), or answered to root on the box (edgectl password-reset, over
// web's unix socket; init is to call the same when the front button of
// an apu2+ is held). The code is then typed into the reset page with a
// new password. A code has about 50 bits and lives 15 minutes; each
// source gets 5 wrong tries per lockout period (the login limiter), so
// no LAN can guess it, and one source cannot burn it for everybody. A
// reset revokes every token and session. Deleting web-admin.json is not a reset: a missing file means
// a new box.

const resetCodeLife = 15 * time.Minute

// resetCodeTries bounds wrong tries from all sources together, against
// an attacker with thousands of addresses; the per-source limiter is
// the everyday bound.
var resetCodeTries = 1000

// ResetCodeAnswer answers POST /api/v1/password/reset-code.
type ResetCodeAnswer = webapi.ResetCodeAnswer

// PasswordReset sets a new admin password with a reset code.
type PasswordReset struct {
	Code        string `json:"code"`
	NewPassword string `json:"new_password"`
}

type resetCodes struct {
	mu      sync.Mutex
	code    string
	expires time.Time
	tries   int
	printed time.Time
}

var errNoResetCode = errors.New("code: no valid reset code: ask for a new one, then read it on the box's serial console")

// resetCodeAlphabet avoids letters that read alike on a console (0/O, 1/I/L).
const resetCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newResetCode() string {
	b := make([]byte, 10)
	rand.Read(b)
	out := make([]byte, 0, 11)
	for i, c := range b {
		if i == 5 {
			out = append(out, '-')
		}
		out = append(out, resetCodeAlphabet[int(c)%len(resetCodeAlphabet)])
	}
	return string(out)
}

// issue returns the live code, making one if none is live.
func (rc *resetCodes) issue(now time.Time) (code string, expires time.Time, fresh bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.code == "" || now.After(rc.expires) {
		rc.code, rc.expires, rc.tries, fresh = newResetCode(), now.Add(resetCodeLife), 0, true
	}
	return rc.code, rc.expires, fresh
}

// use checks code and burns the live code on success or on the last try.
func (rc *resetCodes) use(code string, now time.Time) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.code == "" || now.After(rc.expires) {
		return errNoResetCode
	}
	if subtle.ConstantTimeCompare([]byte(code), []byte(rc.code)) == 1 {
		rc.code = ""
		return nil
	}
	rc.tries++
	if rc.tries >= resetCodeTries {
		rc.code = ""
		return errors.New("code: wrong, and that was the last try: ask for a new code")
	}
	return errors.New("code: wrong reset code: check it on the box's console")
}

// consolePath is the box's serial console.
var consolePath = "/dev/console"

// printResetCode shows the code on the serial console, written there
// directly: web's stderr also goes to init's log buffer, which read-scope
// tokens and remote syslog see, and the code must reach no one but a
// person at the box.
var printResetCode = func(code string, expires time.Time) {
	f, err := os.OpenFile(consolePath, os.O_WRONLY|os.O_APPEND|syscall.O_NOCTTY, 0)
	if err != nil {
		slog.Error("password reset code not shown: the console cannot be opened; run 'edgectl password-reset' on the box", "err", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "\r\nweb: admin password reset code %s (valid until %s UTC; type it into https://<box>/reset)\r\n", code, expires.UTC().Format("15:04"))
}

func (s *Server) handleResetCode(w http.ResponseWriter, r *http.Request) {
	now := s.opt.Now()
	code, expires, fresh := s.resets.issue(now)
	if isTrusted(r) {
		s.log.Info("password reset code given to root on the box")
		apiJSON(w, http.StatusOK, ResetCodeAnswer{Message: "reset code for the web page /reset", Code: code, Expires: expires})
		return
	}
	// Printing again is harmless (the console is the box's own), but not
	// more than once a few seconds, so the console stays readable.
	s.resets.mu.Lock()
	show := fresh || now.Sub(s.resets.printed) > 10*time.Second
	if show {
		s.resets.printed = now
	}
	s.resets.mu.Unlock()
	if show {
		printResetCode(code, expires)
	}
	s.resetLog.warn(s.log, "password reset code requested; printed on the console only", "from", clientAddr(r))
	apiJSON(w, http.StatusAccepted, ResetCodeAnswer{
		Message: "A reset code is printed on the box's serial console (115200 8N1), or run 'edgectl password-reset' on the box. Type it here within 15 minutes.",
		Expires: expires,
	})
}

func (s *Server) handlePasswordReset(w http.ResponseWriter, r *http.Request) {
	var req PasswordReset
	if err := localapi.ReadJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	addr := clientAddr(r)
	if ok, wait := s.limiter.allow(addr); !ok {
		apiError(w, http.StatusTooManyRequests, lockedOut(wait))
		return
	}
	if err := checkPassword(req.NewPassword); err != nil {
		apiError(w, http.StatusBadRequest, fmt.Errorf("new_%w", err))
		return
	}
	if err := s.resets.use(tidyResetCode(req.Code), s.opt.Now()); err != nil {
		s.limiter.result(addr, false)
		s.log.Warn("password reset refused", "from", addr, "err", err)
		apiError(w, http.StatusForbidden, err)
		return
	}
	if err := s.accounts.ResetPassword(req.NewPassword); err != nil {
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	s.sessions.endAll(endedPasswd)
	se := s.sessions.create()
	setSessionCookie(w, r, se)
	s.log.Warn("admin password reset with a code from the box; all tokens and sessions revoked", "from", addr)
	apiJSON(w, http.StatusOK, SessionInfo{User: AdminUser, CSRFToken: se.csrf})
}
