package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/supervise"
	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
)

// The test binary doubles as the supervised service (as in
// internal/supervise): EDGEBOX_TEST_CHILD=run prints two lines, reloads on
// SIGHUP and exits on SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("EDGEBOX_TEST_CHILD") == "" {
		os.Exit(m.Run())
	}
	name := os.Args[0]
	fmt.Printf("%s up pid %d\n", name, os.Getpid())
	fmt.Fprintf(os.Stderr, "%s says hello on stderr\n", name)
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGHUP)
	for s := range c {
		if s == syscall.SIGHUP {
			fmt.Println(name, "reloading")
			continue
		}
		os.Exit(0)
	}
}

func testOptions(logs *testenv.LogBuffer) supervise.Options {
	return supervise.Options{
		BackoffBase: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond, StableAfter: 3 * time.Second,
		CrashLoopCount: 4, FailedRetry: time.Hour, DepWait: 10 * time.Second, StopTimeout: 2 * time.Second,
		LogLines: 50, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
}

// svc is a service that runs this test binary as a child.
func svc(name string, deps ...string) supervise.Service {
	self, _ := os.Executable()
	return supervise.Service{Name: name, Path: self, Deps: deps, Env: []string{"EDGEBOX_TEST_CHILD=run"}}
}

func startSupervisor(t *testing.T, services []supervise.Service, logs *testenv.LogBuffer) *supervise.Supervisor {
	t.Helper()
	s, err := supervise.NewSupervisor(services, testOptions(logs))
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, s)
	return s
}

// startRun runs s until the test ends, then shuts it down.
func startRun(t *testing.T, s *supervise.Supervisor) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { s.Run(ctx); close(ran) }()
	t.Cleanup(func() {
		s.Shutdown()
		cancel()
		<-ran
	})
}

func state(s *supervise.Supervisor, name string) sysapi.Service {
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	return sysapi.Service{}
}
