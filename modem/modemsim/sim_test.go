package modemsim

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
)

// engineOn starts a modem.Engine on a pty served by a new Sim.
func engineOn(t *testing.T, cfg Config) (*Sim, *modem.Engine) {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path, wait, err := sim.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := modem.NewEngine(modem.EngineConfig{Open: func() (io.ReadWriteCloser, error) { return modem.OpenSerial(path, 0) }, Timeout: 2 * time.Second})
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		wait()
	})
	return sim, e
}

func TestPTYEchoAndBasics(t *testing.T) {
	sim, e := engineOn(t, Config{Profile: "huawei-mu609"})
	ctx := context.Background()
	r, err := e.Command(ctx, "AT+CGMM", 0)
	if err != nil || len(r.Lines) != 1 || r.Lines[0] != "MU609" {
		t.Fatalf("CGMM: %q %v", r.Lines, err)
	}
	if !sim.State().Echo {
		t.Fatal("echo should be on after power-on")
	}
	if _, err := e.Command(ctx, "ATE0", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Command(ctx, "AT^FOO", 0); err == nil || !strings.Contains(err.Error(), "COMMAND NOT SUPPORT") {
		t.Fatalf("unsupported: %v", err)
	}
}
