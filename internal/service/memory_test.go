package service

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"edgebox/internal/config"
	"edgebox/internal/testenv"
)

// idleService does nothing until its context ends.
type idleService struct{}

func (idleService) Handler() http.Handler { return http.NotFoundHandler() }
func (idleService) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
func (idleService) Apply(*config.Config) error { return nil }

// runIdle runs an idle service in-process until the returned stop is
// called; stop returns Run's error.
func runIdle(t *testing.T) (stop func() error) {
	dir := t.TempDir()
	spec := Spec{Name: "idle", StopTime: 2 * time.Second, StartWithDefaults: true,
		Args:      []string{"-config", filepath.Join(dir, "config.json"), "-socket", filepath.Join(dir, "idle.sock")},
		LogOutput: io.Discard,
		Start: func(context.Context, Env, *config.Config) (Service, error) {
			return idleService{}, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, spec) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
			return nil
		}
	}
}

// A service that has settled gives its start-up garbage back once.
func TestStartMemoryReleasedOnce(t *testing.T) {
	defer func(d time.Duration, f func()) { startSettle, freeOSMemory = d, f }(startSettle, freeOSMemory)
	var calls atomic.Int32
	startSettle, freeOSMemory = 10*time.Millisecond, func() { calls.Add(1) }
	stop := runIdle(t)
	if err := testenv.Until(5*time.Second, "start memory released", func() (bool, error) {
		return calls.Load() > 0, nil
	}); err != nil {
		t.Error(err)
	}
	time.Sleep(50 * time.Millisecond) // five more settle periods: still once
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("released %d times, want once", n)
	}
}

// A service stopped before it settled neither releases nor waits for it.
func TestStartMemoryReleaseEndsWithService(t *testing.T) {
	defer func(d time.Duration, f func()) { startSettle, freeOSMemory = d, f }(startSettle, freeOSMemory)
	var calls atomic.Int32
	startSettle, freeOSMemory = time.Hour, func() { calls.Add(1) }
	stop := runIdle(t)
	time.Sleep(20 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Error("released although the service stopped before it settled")
	}
}
