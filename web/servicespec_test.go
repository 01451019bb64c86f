package web_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/service"
	"edgebox/web"
)

// lockedBuf is the service's log, written by it and read by the test.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServiceSpec runs web as the skeleton does, with web's own flags: the
// socket the skeleton opens serves web's API as the admin (edgectl on the
// box needs no token there), and a reload over it is refused or applied
// in the one shape.
func TestServiceSpec(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EDGEBOX_RUN_DIR", filepath.Join(dir, "run"))
	t.Setenv("EDGEBOX_PERM_DIR", filepath.Join(dir, "perm"))
	cfg := filepath.Join(dir, "config.json")
	sock := filepath.Join(dir, "web.sock")
	spec := web.ServiceSpec()
	spec.Args = []string{"-config", cfg, "-socket", sock, "-secrets", filepath.Join(dir, "secrets"),
		"-http", "127.0.0.1:0", "-https", "127.0.0.1:0", "-interfaces", "lo", "-board-lan=false"}
	log := &lockedBuf{}
	spec.LogOutput = log
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, spec) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("web stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("web did not stop")
		}
		if t.Failed() {
			t.Logf("log:\n%s", log)
		}
	}()

	c := localapi.NewClientPath(sock)
	var h service.Health
	for i := 0; ; i++ { // bounded: 10 s
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		err := c.Get(rctx, "/healthz", &h)
		rcancel()
		if err == nil {
			break
		}
		if i == 200 {
			t.Fatalf("socket not answering: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.Service != "web" || !h.OK {
		t.Errorf("healthz %+v", h)
	}
	var tokens []any
	if err := c.Get(ctx, "/api/v1/tokens", &tokens); err != nil {
		t.Errorf("admin API over the socket without a token: %v", err)
	}

	os.WriteFile(cfg, []byte(`{"version": 1, "web": {`), 0o600)
	err := c.Post(ctx, "/v1/reload", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "web: config rejected at load") {
		t.Errorf("broken config reloaded: %v", err)
	}
	os.WriteFile(cfg, []byte(`{"version": 1, "web": {"interfaces": ["eth9"]}}`), 0o600)
	if err := c.Post(ctx, "/v1/reload", nil, nil); err != nil {
		t.Errorf("good config refused: %v", err)
	}
	if !strings.Contains(log.String(), "interfaces fixed by -interfaces") {
		t.Errorf("reload did not say -interfaces keeps the interfaces")
	}
}
