package web

import (
	"context"
	"edgebox/api/webapi"
	"fmt"
	"net/http"
)

// Scope is what an API token may do (see api/webapi).
type Scope = webapi.Scope

const (
	ScopeRead    = webapi.ScopeRead
	ScopeOperate = webapi.ScopeOperate
	ScopeAdmin   = webapi.ScopeAdmin
)

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
