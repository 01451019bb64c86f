package web

import (
	"errors"
	"net/http"
	"time"

	"edgebox/api/webapi"
	"edgebox/internal/localapi"
)

// SetupRequest sets the first admin password.
type SetupRequest struct {
	Username string `json:"username,omitempty"` // must be "admin" if given
	Password string `json:"password"`
}

// LoginRequest logs the admin in and starts a browser session.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// SessionInfo answers a login: the CSRF token to send as X-CSRF-Token
// with every state-changing request of this session.
type SessionInfo struct {
	User      string `json:"user"`
	CSRFToken string `json:"csrf_token"`
}

// PasswordChange replaces the admin password.
type PasswordChange struct {
	Old string `json:"old_password"`
	New string `json:"new_password"`
	// RevokeTokens also revokes every API token (after a break-in);
	// without it the tokens stay and only the sessions end.
	RevokeTokens bool `json:"revoke_tokens,omitempty"`
}

// PasswordChanged answers a password change: this browser's new session,
// what happened to the tokens and the other sessions, and that in words.
type PasswordChanged struct {
	SessionInfo
	TokensKept    int    `json:"tokens_kept"`
	TokensRevoked int    `json:"tokens_revoked"`
	SessionsEnded int    `json:"sessions_ended"`
	Message       string `json:"message"`
}

// The token API's JSON types live in api/webapi, for edgectl.
type (
	TokenRequest     = webapi.TokenRequest
	NewTokenResponse = webapi.NewTokenResponse
)

// OK is the body of a successful action without other result.
type OK struct {
	OK bool `json:"ok"`
}

func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) {
	var req SetupRequest
	if err := localapi.ReadJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if u := tidyUser(req.Username); u != "" && u != AdminUser {
		apiError(w, http.StatusBadRequest, errors.New("username: the account is called admin"))
		return
	}
	if err := s.accounts.SetInitial(req.Password); err != nil {
		switch {
		case errors.Is(err, errAdminExists):
			apiError(w, http.StatusConflict, err)
		case errors.Is(err, errShortPasswd), errors.Is(err, errLongPasswd):
			apiError(w, http.StatusBadRequest, err)
		default:
			apiError(w, http.StatusInternalServerError, err)
		}
		return
	}
	s.log.Info("admin password set (first boot)", "from", clientAddr(r))
	se := s.sessions.create()
	setSessionCookie(w, r, se)
	apiJSON(w, http.StatusCreated, SessionInfo{User: AdminUser, CSRFToken: se.csrf})
}

// login checks a password with the rate limiter and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request, user, pass string) (*session, int, error) {
	if !s.accounts.HasAdmin() {
		return nil, http.StatusConflict, errNoAdmin
	}
	addr := clientAddr(r)
	if ok, wait := s.limiter.allow(addr); !ok {
		s.metrics.logins.WithLabelValues("locked").Inc()
		s.lockedLog.warn(s.log, "login refused: source must wait", "from", addr)
		return nil, http.StatusTooManyRequests, lockedOut(wait)
	}
	ok := s.accounts.Check(user, pass)
	s.limiter.result(addr, ok)
	s.countLogin(ok)
	if !ok {
		s.log.Warn("login failed", "from", addr)
		return nil, http.StatusUnauthorized, s.badLogin()
	}
	se := s.sessions.create()
	setSessionCookie(w, r, se)
	s.log.Info("admin logged in", "from", addr)
	return se, http.StatusOK, nil
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := localapi.ReadJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	se, status, err := s.login(w, r, tidyUser(req.Username), req.Password)
	if err != nil {
		apiError(w, status, err)
		return
	}
	apiJSON(w, http.StatusOK, SessionInfo{User: AdminUser, CSRFToken: se.csrf})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if se := sessionOf(r); se != nil {
		s.sessions.drop(se.id)
	}
	clearSessionCookie(w, r)
	apiJSON(w, http.StatusOK, OK{true})
}

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	if se == nil {
		apiJSON(w, http.StatusOK, SessionInfo{User: AdminUser})
		return
	}
	apiJSON(w, http.StatusOK, SessionInfo{User: AdminUser, CSRFToken: se.csrf})
}

func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request) {
	var req PasswordChange
	if err := localapi.ReadJSON(r, &req); err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	if ok, wait := s.limiter.allow(clientAddr(r)); !ok {
		apiError(w, http.StatusTooManyRequests, lockedOut(wait))
		return
	}
	n, err := s.accounts.ChangePassword(req.Old, req.New, req.RevokeTokens)
	s.limiter.result(clientAddr(r), !errors.Is(err, errBadLogin))
	switch {
	case errors.Is(err, errBadLogin):
		apiError(w, http.StatusForbidden, errors.New("old_password: wrong password"))
		return
	case errors.Is(err, errShortPasswd), errors.Is(err, errLongPasswd):
		apiError(w, http.StatusBadRequest, err)
		return
	case err != nil:
		apiError(w, http.StatusInternalServerError, err)
		return
	}
	// Every session came from the old password: the others end, this
	// one goes on in a new session.
	ended := s.sessions.endAll(endedPasswd)
	if sessionOf(r) != nil && ended > 0 {
		ended-- // this browser's, which goes on
	}
	se := s.sessions.create()
	setSessionCookie(w, r, se)
	s.log.Info("admin password changed", "from", clientAddr(r), "tokens_kept", n.Kept, "tokens_revoked", n.Revoked, "sessions_ended", ended)
	ans := PasswordChanged{SessionInfo: SessionInfo{User: AdminUser, CSRFToken: se.csrf}, TokensKept: n.Kept, TokensRevoked: n.Revoked, SessionsEnded: ended}
	lang := langOf(r)
	if req.RevokeTokens {
		ans.Message = trf(lang, passwordTokensRevoked, n.Revoked, ended)
	} else {
		ans.Message = trf(lang, passwordTokensKept, n.Kept, ended)
	}
	apiJSON(w, http.StatusOK, ans)
}

// What a password change did, as the password page says it.
const (
	passwordTokensKept    = "Password changed. API tokens kept: %d (revoke on this page any that may be in wrong hands). Other browsers logged out: %d."
	passwordTokensRevoked = "Password changed. API tokens revoked: %d. Other browsers logged out: %d."
)

func (s *Server) handleNewToken(w http.ResponseWriter, r *http.Request) {
	var req TokenRequest
	if r.ContentLength != 0 {
		if err := localapi.ReadJSON(r, &req); err != nil {
			apiError(w, http.StatusBadRequest, err)
			return
		}
	}
	if req.Scope == "" {
		req.Scope = ScopeRead
	}
	if req.ExpiresDays < 0 || req.ExpiresDays > 366 {
		apiError(w, http.StatusBadRequest, errors.New("expires_days: use 1 to 366 days"))
		return
	}
	secret, info, err := s.accounts.NewToken(req.Name, req.Scope, time.Duration(req.ExpiresDays)*24*time.Hour)
	if err != nil {
		apiError(w, http.StatusBadRequest, err)
		return
	}
	s.log.Info("API token created", "id", info.ID, "name", info.Name, "scope", info.Scope, "expires", info.Expires)
	apiJSON(w, http.StatusCreated, NewTokenResponse{Token: secret, TokenInfo: info})
}

func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) {
	apiJSON(w, http.StatusOK, s.accounts.Tokens())
}

func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request) {
	if err := s.accounts.DeleteToken(r.PathValue("id")); err != nil {
		apiError(w, http.StatusNotFound, err)
		return
	}
	s.log.Info("API token revoked", "id", r.PathValue("id"), "from", clientAddr(r))
	apiJSON(w, http.StatusOK, OK{true})
}

// badLogin is the answer to a wrong password.
func (s *Server) badLogin() error {
	if s.accounts.Damaged() {
		return errDamaged
	}
	return errBadLogin
}

func (s *Server) countLogin(ok bool) {
	if ok {
		s.metrics.logins.WithLabelValues("ok").Inc()
	} else {
		s.metrics.logins.WithLabelValues("failed").Inc()
	}
}
