package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"edgebox/api/netapi"
	"edgebox/internal/paths"
)

// TestDiagATUnsafeOnlyForAdmin: web passes the AT passthrough's unsafe
// flag on to netctl only for admin scope, leaves the policy to netctl (a
// refused command comes back as netctl's words) and never logs the
// command (it may hold a PIN).
func TestDiagATUnsafeOnlyForAdmin(t *testing.T) {
	run := t.TempDir()
	t.Setenv("EDGEBOX_RUN_DIR", run)
	sock := paths.Socket("netctl")
	os.MkdirAll(filepath.Dir(sock), 0o755)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []netapi.ATRequest // as netctl reads it
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body netapi.ATRequest
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"lines": []string{"OK"}})
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	s := &Server{log: slog.Default()} // the logs buffer above
	for _, scope := range []Scope{ScopeOperate, ScopeAdmin} {
		body := `{"tool":"at","target":"AT;+CPIN=\"9731\"","unsafe":true}`
		r := httptest.NewRequest("POST", "/api/v1/diag", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r = r.WithContext(context.WithValue(r.Context(), scopeKey, scope))
		w := httptest.NewRecorder()
		s.handleDiag(w, r)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", scope, w.Code, w.Body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Unsafe || !got[1].Unsafe || got[0].Command != `AT;+CPIN="9731"` {
		t.Fatalf("netctl got %v, want unsafe false for operate, true for admin", got)
	}
	if strings.Contains(logs.String(), "9731") {
		t.Errorf("web logged the PIN: %s", logs.String())
	}
}
