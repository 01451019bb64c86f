package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/sysapi"
	"edgebox/internal/update"
)

// fakeInit plays init's API on a unix socket in the test's run dir.
type fakeInit struct {
	mu         sync.Mutex
	services   []sysapi.Service
	restarts   []string
	reloads    []string
	power      []string
	logs       map[string][]sysapi.LogLine
	version    string   // the installed firmware ("test-1")
	installs   []string // versions installed through POST /v1/update
	configNote string   // init's word on a damaged config
}

func (f *fakeInit) handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/system", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		v := f.version
		if v == "" {
			v = "test-1"
		}
		up := 42.0
		if slices.Contains(f.power, "reboot") {
			up = 3 // a new boot
		}
		localapi.WriteJSON(w, 200, sysapi.System{Board: "qemu", Hostname: "edgebox-test", Version: v, UptimeSec: up, Perm: "mounted", Services: f.services, ConfigNote: f.configNote})
	})
	m.HandleFunc("POST /v1/services/{name}/restart", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		name := r.PathValue("name")
		for i := range f.services {
			if f.services[i].Name == name {
				f.services[i].Restarts++
				f.restarts = append(f.restarts, name)
				localapi.WriteJSON(w, 200, struct{}{})
				return
			}
		}
		localapi.WriteJSON(w, 404, localapi.Error{Error: "no service " + name})
	})
	m.HandleFunc("POST /v1/services/{name}/reload", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.reloads = append(f.reloads, r.PathValue("name"))
		localapi.WriteJSON(w, 200, struct{}{})
	})
	m.HandleFunc("GET /v1/services/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		l := f.logs[r.PathValue("name")]
		if l == nil {
			l = []sysapi.LogLine{}
		}
		localapi.WriteJSON(w, 200, l)
	})
	// An install as init answers it (no signature check: init's own tests
	// do that): older versions only with allow_downgrade.
	m.HandleFunc("POST /v1/update", func(w http.ResponseWriter, r *http.Request) {
		h, err := update.ReadHeader(r.Body)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		if err != nil {
			enc.Encode(update.Progress{Phase: update.PhaseFailed, Error: err.Error()})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if c, ok := update.CompareVersions(h.Manifest.Version, f.version); ok && c < 0 && r.URL.Query().Get("allow_downgrade") != "1" {
			enc.Encode(update.Progress{Phase: update.PhaseFailed, Error: "version " + h.Manifest.Version + " is older than the running " + f.version})
			return
		}
		f.installs = append(f.installs, h.Manifest.Version)
		enc.Encode(update.Progress{Phase: "done", Result: &update.Result{Slot: "B", Version: h.Manifest.Version, Message: "Installed into slot B; the next boot tries it."}})
	})
	m.HandleFunc("POST /v1/factory-reset", func(w http.ResponseWriter, r *http.Request) {
		var req update.FactoryReset
		if json.NewDecoder(r.Body).Decode(&req) != nil || req.Confirm != update.FactoryResetPhrase {
			localapi.WriteError(w, 400, errors.New("confirm: wrong phrase"))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.power = append(f.power, "factory-reset")
		localapi.WriteJSON(w, 200, struct{}{})
	})
	for _, a := range []string{"reboot", "poweroff"} {
		m.HandleFunc("POST /v1/"+a, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.power = append(f.power, a)
			localapi.WriteJSON(w, 200, struct{}{})
		})
	}
	return m
}

// serveUnix serves h on RunDir/name.sock until the test ends.
func serveUnix(t *testing.T, name string, h http.Handler) {
	t.Helper()
	l, err := localapi.ListenPath(filepath.Join(os.Getenv("EDGEBOX_RUN_DIR"), name+".sock"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { localapi.Serve(ctx, l, h); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// testEnv is a web server with fake services in temporary directories.
type testEnv struct {
	t    *testing.T
	srv  *Server
	init *fakeInit
	ts   *httptest.Server // HTTPS handler, over plain TCP on loopback
	dir  string
}

func newTestEnv(t *testing.T, withInit bool, opt Options) *testEnv {
	t.Helper()
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	os.MkdirAll(run, 0o755)
	t.Setenv("EDGEBOX_RUN_DIR", run)
	t.Setenv("EDGEBOX_PERM_DIR", filepath.Join(dir, "perm"))
	e := &testEnv{t: t, dir: dir}
	if withInit {
		e.init = &fakeInit{
			services: []sysapi.Service{
				{Name: "netctl", State: sysapi.StateRunning, PID: 10, Restarts: 0},
				{Name: "web", State: sysapi.StateRunning, PID: 11, Restarts: 1},
			},
			logs: map[string][]sysapi.LogLine{"netctl": {{Seq: 1, Time: time.Unix(1700000000, 0), Text: "netctl: started"}}},
		}
		serveUnix(t, sysapi.SocketName, e.init.handler())
	}
	if opt.BcryptCost == 0 {
		opt.BcryptCost = 4 // bcrypt.MinCost: fast tests
	}
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = s
	e.ts = httptest.NewServer(s.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

func newJarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func httpRequestTLS(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, "https://127.0.0.1"+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
