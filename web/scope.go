package web

import (
	"context"
	"fmt"
	"net/http"
)

// Scope is what an API token may do. Browser sessions, Basic auth and
// root on the box (web's unix socket) act with ScopeAdmin.
type Scope string

const (
	// ScopeRead reads status, logs, config (secrets redacted), metrics.
	ScopeRead Scope = "read"
	// ScopeOperate also runs the box: restart services, reboot, send
	// SMS, run diagnostics.
	ScopeOperate Scope = "operate"
	// ScopeAdmin may do everything: config changes, backup (it holds the
	// secrets), restore, firmware update, factory reset, tokens, and the
	// raw service proxy.
	ScopeAdmin Scope = "admin"
)

var scopeRank = map[Scope]int{ScopeRead: 1, ScopeOperate: 2, ScopeAdmin: 3}

func (s Scope) valid() bool { return scopeRank[s] > 0 }

// Allows reports whether a caller with scope s may do what needs scope need.
func (s Scope) Allows(need Scope) bool { return scopeRank[s] >= scopeRank[need] }

const scopeKey ctxKey = 4

// ScopeOf is the scope of the caller of r, as the API wrapper put it in
// the context: the AT passthrough passes "unsafe" on only for ScopeAdmin.
func ScopeOf(r *http.Request) Scope { return ScopeFromContext(r.Context()) }

// ScopeFromContext is ScopeOf for a context; "" outside the API wrapper.
func ScopeFromContext(ctx context.Context) Scope {
	s, _ := ctx.Value(scopeKey).(Scope)
	return s
}

func errScope(have, need Scope) error {
	return fmt.Errorf("this API token has scope %q; this needs %q: create a token with scope %q (Admin page or POST /api/v1/tokens)", have, need, need)
}
