package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The boot's /healthz phase is printed when web first answers healthy
// with init's services in it: not on web's own ok while init is not
// reachable, not on a service still starting.
func TestWatchLocalHealthWaitsForHealthy(t *testing.T) {
	answers := []string{
		`{"ok":true,"services":[],"init_error":"init not reachable"}`,
		`{"ok":false,"services":[{"name":"netctl","state":"starting"}]}`,
		`not json`,
		`{"ok":true,"services":[{"name":"netctl","state":"running"}]}`,
	}
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(asked.Add(1)) - 1
		fmt.Fprint(w, answers[min(n, len(answers)-1)])
	}))
	defer srv.Close()
	var calls, at atomic.Int32
	done := make(chan struct{})
	go func() {
		watchLocalHealth(context.Background(), srv.URL+"/healthz", time.Millisecond, func() {
			calls.Add(1)
			at.Store(asked.Load())
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("watchLocalHealth did not return after a healthy answer")
	}
	if calls.Load() != 1 || at.Load() != int32(len(answers)) {
		t.Errorf("healthy called %d times, after %d answers; want once, after %d", calls.Load(), at.Load(), len(answers))
	}
}

// Nothing listening: it keeps asking until its context ends, and never
// calls healthy.
func TestWatchLocalHealthStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/healthz"
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	called := false
	watchLocalHealth(ctx, url, 5*time.Millisecond, func() { called = true })
	if called {
		t.Error("healthy called with nothing listening")
	}
}
