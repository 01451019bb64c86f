package service_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/localapi"
	"edgebox/internal/service"
	"edgebox/internal/testenv"
)

// child is the fake service running as a process of its own.
type child struct {
	t       *testing.T
	cfgPath string
	sock    string
	cmd     *exec.Cmd
	log     *syncBuf
	done    chan struct{}
	api     *localapi.Client
}

// startChild writes a config with host name host and starts the fake on
// it; env adds FAKE_* settings, args more flags. The child is killed when
// the test ends.
func startChild(t *testing.T, host string, env []string, args ...string) *child {
	t.Helper()
	dir := t.TempDir()
	c := &child{t: t, cfgPath: filepath.Join(dir, "config.json"), sock: filepath.Join(dir, "fake.sock"),
		log: &syncBuf{}, done: make(chan struct{})}
	c.writeHost(host)
	c.cmd = exec.Command(os.Args[0], append([]string{"-config", c.cfgPath, "-socket", c.sock}, args...)...)
	c.cmd.Env = append(append(os.Environ(), childEnv+"=1", "EDGEBOX_RUN_DIR="+dir), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("child log:\n%s", c.log)
		}
	})
	c.api = localapi.NewClientPath(c.sock)
	return c
}

// writeHost stores a valid-looking config document naming host (written
// raw: config.Save would refuse the bad ones the tests need).
func (c *child) writeHost(host string) {
	c.writeRaw(fmt.Sprintf(`{"version": %d, "system": {"hostname": %q}}`, config.SchemaVersion, host))
}

func (c *child) writeRaw(doc string) {
	if err := os.WriteFile(c.cfgPath, []byte(doc), 0o600); err != nil {
		c.t.Fatal(err)
	}
}

func (c *child) signal(sig syscall.Signal) {
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}

func (c *child) health() (service.Health, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var h service.Health
	return h, c.api.Get(ctx, "/healthz", &h)
}

// healthJSON reads /healthz raw, to check the reload error's wire form.
func (c *child) healthJSON() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var h map[string]any
	return h, c.api.Get(ctx, "/healthz", &h)
}

func (c *child) hostname() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var v struct{ Hostname string }
	err := c.api.Get(ctx, "/v1/hostname", &v)
	return v.Hostname, err
}

// waitUp waits for the socket to answer /healthz.
func (c *child) waitUp() service.Health {
	c.t.Helper()
	var h service.Health
	testenv.WaitFor(c.t, 15*time.Second, "socket answers /healthz", testenv.Why(func() (bool, string) {
		var err error
		h, err = c.health()
		return err == nil, fmt.Sprint(err)
	}))
	return h
}

// exit waits for the child to end and returns its exit code.
func (c *child) exit() int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(20 * time.Second):
		c.t.Fatal("child did not exit")
	}
	return c.cmd.ProcessState.ExitCode()
}

// syncBuf is a log buffer the child writes while the test reads.
type syncBuf struct{ testenv.LogBuffer }

// lines returns the log lines containing every one of parts.
func (s *syncBuf) lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(s.String(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}
