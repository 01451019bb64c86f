package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/localapi"
	"edgebox/internal/supervise"
	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
)

// TestSystemAPIWithEdgectl serves init's system API on a socket and drives
// it with the real edgectl binary: services, logs, restart, reboot.
func TestSystemAPIWithEdgectl(t *testing.T) {
	run := t.TempDir()
	t.Setenv("EDGEBOX_RUN_DIR", run)
	edgectl := filepath.Join(t.TempDir(), "edgectl")
	if out, err := exec.Command("go", "build", "-o", edgectl, "edgebox/cmd/edgectl").CombinedOutput(); err != nil {
		t.Fatalf("build edgectl: %v\n%s", err, out)
	}
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []supervise.Service{svc("netctl"), svc("web", "netctl")}, logs)
	testenv.WaitFor(t, 5*time.Second, "running", testenv.Cond(func() bool { return state(s, "web").PID != 0 }))
	power := make(chan string, 1)
	api := &apiServer{sup: s, booted: time.Now(), power: power,
		info: func() sysapi.System { return sysapi.System{Board: "qemu", Version: "test", Perm: permMounted} }}
	l, err := localapi.Listen(sysapi.SocketName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go localapi.Serve(ctx, l, api.handler())
	if fi, err := os.Stat(filepath.Join(run, "init.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v %v", err, fi)
	}

	edge := func(args ...string) (string, error) {
		out, err := exec.Command(edgectl, args...).CombinedOutput()
		return string(out), err
	}
	out, err := edge("services")
	if err != nil || !strings.Contains(out, "netctl") || !strings.Contains(out, "running") || !strings.Contains(out, "RESTARTS") {
		t.Fatalf("edgectl services: %v\n%s", err, out)
	}
	testenv.WaitFor(t, 5*time.Second, "log lines", testenv.Cond(func() bool { l, _ := s.Logs("web", 0, 0); return len(l) >= 2 }))
	out, err = edge("logs", "web")
	if err != nil || !strings.Contains(out, "web up pid") {
		t.Fatalf("edgectl logs: %v\n%s", err, out)
	}
	if out, err := edge("logs", "nosuch"); err == nil || !strings.Contains(out, "no service") {
		t.Fatalf("logs of unknown service: %v %s", err, out)
	}
	old := state(s, "web").PID
	if out, err := edge("restart", "web"); err != nil {
		t.Fatalf("restart: %v %s", err, out)
	}
	testenv.WaitFor(t, 5*time.Second, "new web", testenv.Cond(func() bool { p := state(s, "web").PID; return p != 0 && p != old }))
	out, err = edge("--json", "services")
	if err != nil || !strings.Contains(out, `"restarts": 1`) {
		t.Fatalf("json: %v %s", err, out)
	}
	if out, err := edge("reboot"); err != nil {
		t.Fatalf("reboot: %v %s", err, out)
	}
	select {
	case a := <-power:
		if a != "reboot" {
			t.Fatalf("power action %q", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reboot request did not reach init")
	}
}
