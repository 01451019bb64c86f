package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/service"
	"edgebox/internal/testenv"
)

// TestReloadApplied: SIGHUP puts a changed config into effect in the
// running process, and /healthz on its socket says when.
func TestReloadApplied(t *testing.T) {
	c := startChild(t, "one", nil)
	h := c.waitUp()
	if h.Service != "fake" || !h.OK || h.PID != c.cmd.Process.Pid || h.ReloadError != nil {
		t.Fatalf("healthz at start: %+v", h)
	}
	if fi, err := os.Stat(c.sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode: %v %v, want 0600 (root only)", fi.Mode(), err)
	}
	if got, err := c.hostname(); got != "one" {
		t.Fatalf("hostname at start %q %v", got, err)
	}
	c.writeHost("two")
	c.signal(syscall.SIGHUP)
	testenv.WaitFor(t, 15*time.Second, "reload applied", testenv.Why(func() (bool, string) {
		got, err := c.hostname()
		return got == "two", fmt.Sprint(got, err)
	}))
	h2, err := c.health()
	if err != nil || !h2.OK || !h2.ConfigAt.After(h.ConfigAt) {
		t.Errorf("healthz after reload: %+v %v (before %+v)", h2, err, h)
	}
	if len(c.log.lines(`msg="config reloaded"`, "service=fake")) != 1 {
		t.Errorf("reload not logged:\n%s", c.log)
	}
}

// TestReloadRefusedKeepsRunningConfig: a config refused at any of the
// three steps leaves the running one in effect, and every refusal has the
// one shape, in the log and in /healthz. A good config then clears it.
func TestReloadRefusedKeepsRunningConfig(t *testing.T) {
	c := startChild(t, "one", nil)
	c.waitUp()
	for i, tc := range []struct {
		name, doc string
		step      service.Step
		cause     string
	}{
		{"not JSON", `{"version": 1, "system": {`, service.StepLoad, "not valid JSON"},
		{"unknown field", `{"version": 1, "sytsem": {}}`, service.StepLoad, "unknown field"},
		{"breaks config.Validate", `{"version": 1, "system": {"hostname": "-bad-"}}`, service.StepValidate, "system.hostname"},
		{"breaks the service's rule", `{"version": 1, "system": {"hostname": "` + validatorRefuses + `"}}`, service.StepValidate, "validator refuses"},
		{"refused by Apply", `{"version": 1, "system": {"hostname": "` + applyRefuses + `"}}`, service.StepApply, "cannot apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.writeRaw(tc.doc)
			c.signal(syscall.SIGHUP)
			var raw map[string]any
			testenv.WaitFor(t, 15*time.Second, "refusal in /healthz", testenv.Why(func() (bool, string) {
				var err error
				raw, err = c.healthJSON()
				re, _ := raw["reload_error"].(map[string]any)
				return re != nil && re["step"] == string(tc.step) && strings.Contains(fmt.Sprint(re["error"]), tc.cause), fmt.Sprint(raw, err)
			}))
			re := raw["reload_error"].(map[string]any)
			if raw["ok"] != false || re["service"] != "fake" || re["at"] == nil {
				t.Errorf("healthz: %v", raw)
			}
			if got, err := c.hostname(); got != "one" {
				t.Errorf("running config not kept: hostname %q %v", got, err)
			}
			logged := c.log.lines(`msg="config rejected, keeping the running one"`, "service=fake", "step="+string(tc.step))
			if len(logged) < 1 || !strings.Contains(strings.Join(logged, "\n"), tc.cause) {
				t.Errorf("refusal %d not logged in the one shape:\n%s", i, c.log)
			}
		})
	}
	c.writeHost("three")
	c.signal(syscall.SIGHUP)
	testenv.WaitFor(t, 15*time.Second, "good config after refusals", testenv.Why(func() (bool, string) {
		h, err := c.health()
		got, _ := c.hostname()
		return err == nil && h.OK && h.ReloadError == nil && got == "three", fmt.Sprintf("%+v %v %q", h, err, got)
	}))
	if c.cmd.ProcessState != nil {
		t.Error("the service exited on a refused config")
	}
}

// TestSignalStopsWithinStopTime: SIGTERM and SIGINT cancel the service's
// context and wait for it to drain (exit 0); a service that takes longer
// than its stop time is given up on (exit 1, said in the log).
func TestSignalStopsWithinStopTime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sig      syscall.Signal
		stopTime string
		drain    string
		code     int
		logged   string
	}{
		{"SIGTERM drained", syscall.SIGTERM, "10s", "300ms", 0, `msg="fake stopped"`},
		{"SIGINT drained", syscall.SIGINT, "10s", "0s", 0, `msg="fake stopped"`},
		{"SIGTERM past stop time", syscall.SIGTERM, "200ms", "30s", 1, "did not stop within its stop time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startChild(t, "one", []string{"FAKE_STOP_TIME=" + tc.stopTime}, "-drain", tc.drain)
			c.waitUp()
			c.signal(tc.sig)
			if code := c.exit(); code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			if len(c.log.lines(tc.logged)) == 0 {
				t.Errorf("log lacks %q:\n%s", tc.logged, c.log)
			}
			drained := len(c.log.lines(`msg="fake drained"`)) == 1
			if drained != (tc.code == 0) {
				t.Errorf("service drained: %v, want %v", drained, tc.code == 0)
			}
			if _, err := os.Stat(c.sock); err == nil && tc.code == 0 {
				t.Error("socket left behind after a clean stop")
			}
		})
	}
}

// TestStartConfig: a config refused at start ends the service (exit 1, the
// one shape in the log), unless the spec starts with the defaults (web),
// which then says so in /healthz.
func TestStartConfig(t *testing.T) {
	c := startChild(t, "-bad-", nil)
	if code := c.exit(); code != 1 {
		t.Errorf("exit code %d with a bad config, want 1", code)
	}
	if len(c.log.lines("fake cannot start: config rejected", "service=fake", "step=validate", "system.hostname")) != 1 {
		t.Errorf("start refusal not logged in the one shape:\n%s", c.log)
	}

	d := startChild(t, "-bad-", []string{"FAKE_DEFAULTS=1"})
	h := d.waitUp()
	if h.OK || h.ReloadError == nil || h.ReloadError.Step != service.StepValidate {
		t.Errorf("healthz with defaults: %+v", h)
	}
	if got, _ := d.hostname(); got != "" {
		t.Errorf("hostname %q, want the default (empty)", got)
	}
}

// TestFlags: the common flags and the spec's own parse together; a bad
// command line exits 2 before anything starts; -log-level debug shows
// debug lines.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-no-such-flag"}, {"-log-level", "loud"}, {"stray"}, {"-drain", "soon"}} {
		c := startChild(t, "one", nil, args...)
		if code := c.exit(); code != 2 {
			t.Errorf("%v: exit code %d, want 2", args, code)
		}
		if _, err := os.Stat(c.sock); err == nil {
			t.Errorf("%v: socket opened", args)
		}
	}
	c := startChild(t, "one", nil, "-log-level", "debug")
	c.waitUp()
	if len(c.log.lines("level=DEBUG", `msg="fake starting"`, "socket="+c.sock)) != 1 {
		t.Errorf("debug line missing:\n%s", c.log)
	}
	q := startChild(t, "one", nil)
	q.waitUp()
	if len(q.log.lines("level=DEBUG")) != 0 {
		t.Errorf("debug lines at the default level:\n%s", q.log)
	}
}

// TestConfigErrorShape: the error unwraps to its cause and reads the same
// way for every service and step.
func TestConfigErrorShape(t *testing.T) {
	cause := errors.New("network.wan.address: not an address")
	var err error = &service.ConfigError{Service: "netctl", Step: service.StepValidate, Err: cause, At: time.Unix(0, 0).UTC()}
	var ce *service.ConfigError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &ce) || !errors.Is(err, cause) {
		t.Fatal("ConfigError does not unwrap")
	}
	if got, want := err.Error(), "netctl: config rejected at validate: network.wan.address: not an address"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	b, _ := json.Marshal(err)
	if got, want := string(b), `{"service":"netctl","step":"validate","error":"network.wan.address: not an address","at":"1970-01-01T00:00:00Z"}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
}

// TestReloadOverSocket: POST /v1/reload is the same reload as SIGHUP, and
// answers with the refusal in the same shape.
func TestReloadOverSocket(t *testing.T) {
	c := startChild(t, "one", nil)
	c.waitUp()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.writeHost(applyRefuses)
	err := c.api.Post(ctx, "/v1/reload", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "fake: config rejected at apply: the fake cannot apply this host name") {
		t.Errorf("refused reload answered %v", err)
	}
	if got, _ := c.hostname(); got != "one" {
		t.Errorf("running config not kept: %q", got)
	}
	if h, _ := c.health(); h.ReloadError == nil || h.ReloadError.Step != service.StepApply {
		t.Errorf("healthz after a refused POST: %+v", h)
	}
	c.writeHost("two")
	if err := c.api.Post(ctx, "/v1/reload", nil, nil); err != nil {
		t.Errorf("good reload answered %v", err)
	}
	if got, _ := c.hostname(); got != "two" {
		t.Errorf("hostname %q after POST /v1/reload, want two", got)
	}
}
