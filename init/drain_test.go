package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/gateway"
	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/internal/supervise"
	"edgebox/internal/testenv"
)

// TestDrainGatewayBeforeReboot runs init's drain step against the real
// gateway service's API on its socket, and edgectl drain/undrain on it.
// (The wait for live calls is TestDrainKeepsLiveCallRefusesNew in gateway/.)
func TestDrainGatewayBeforeReboot(t *testing.T) {
	run := t.TempDir()
	t.Setenv("EDGEBOX_RUN_DIR", run)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	// No gateway: the reboot goes on at once.
	done := make(chan struct{})
	go func() { drainGateway(gatewayapi.NewClient(), "reboot", log); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("drainGateway hung with no gateway running")
	}

	svc, err := gateway.New(config.DefaultGateway(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	l, err := localapi.Listen(gatewayapi.SocketName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { localapi.Serve(ctx, l, svc.APIHandler()); close(served) }()
	t.Cleanup(func() { cancel(); <-served })

	edgectl := filepath.Join(t.TempDir(), "edgectl")
	if out, err := exec.Command("go", "build", "-o", edgectl, "edgebox/cmd/edgectl").CombinedOutput(); err != nil {
		t.Fatalf("build edgectl: %v\n%s", err, out)
	}
	edge := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(edgectl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("edgectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := edge("drain", "status"); !strings.Contains(out, "taking calls") {
		t.Fatalf("edgectl drain status before: %q", out)
	}

	drainGateway(gatewayapi.NewClient(), "reboot", log)
	if !svc.Draining() {
		t.Fatalf("init's drain step left the gateway taking calls; log:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "gateway drained") {
		t.Errorf("init's log does not say the gateway drained:\n%s", logs.String())
	}
	if out := edge("drain", "status"); !strings.Contains(out, "draining since") {
		t.Errorf("edgectl drain status while draining: %q", out)
	}
	if out := edge("undrain"); !strings.Contains(out, "taking calls") || svc.Draining() {
		t.Errorf("edgectl undrain: %q draining=%v", out, svc.Draining())
	}
	if out := edge("drain", "--wait"); !strings.Contains(out, "draining since") || !svc.Draining() {
		t.Errorf("edgectl drain --wait: %q draining=%v", out, svc.Draining())
	}
}

// TestGatewayRestartDrainsFirst: a restart of the gateway service through
// init's API drains the (real) gateway before the supervisor restarts it.
func TestGatewayRestartDrainsFirst(t *testing.T) {
	t.Setenv("EDGEBOX_RUN_DIR", t.TempDir())
	gw, err := gateway.New(config.DefaultGateway(), slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	l, err := localapi.Listen(gatewayapi.SocketName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { localapi.Serve(ctx, l, gw.APIHandler()); close(served) }()
	t.Cleanup(func() { cancel(); <-served })

	s := startSupervisor(t, []supervise.Service{svc("gateway")}, &testenv.LogBuffer{})
	testenv.WaitFor(t, 10*time.Second, "gateway process", testenv.Cond(func() bool { return state(s, "gateway").PID != 0 }))
	old := state(s, "gateway").PID
	api := &apiServer{sup: s, booted: time.Now()}
	rec := httptest.NewRecorder()
	api.handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/services/gateway/restart", nil))
	if rec.Code != http.StatusAccepted || !strings.Contains(rec.Body.String(), "draining") {
		t.Fatalf("restart gateway: %d %s", rec.Code, rec.Body.String())
	}
	testenv.WaitFor(t, 60*time.Second, "the gateway restarted", testenv.Cond(func() bool { p := state(s, "gateway").PID; return p != 0 && p != old }))
	if !gw.Draining() {
		t.Error("the gateway was restarted without being drained first")
	}
}
