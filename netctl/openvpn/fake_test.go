package openvpn

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary play a broken openvpn (EDGEBOX_FAKE_OPENVPN
// set), so supervision is tested without root or a real server.
func TestMain(m *testing.M) {
	if mode := os.Getenv("EDGEBOX_FAKE_OPENVPN"); mode != "" {
		fmt.Println("OpenVPN 2.6.14 x86_64-pc-linux-gnu (fake)")
		fmt.Println("Options error: fake failure at startup")
		fmt.Println("Use --help for more information.")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestRestartBackoff: an openvpn that keeps exiting is restarted with a
// growing wait, and its own error is what the status shows.
func TestRestartBackoff(t *testing.T) {
	t.Setenv("EDGEBOX_FAKE_OPENVPN", "exit")
	dir := t.TempDir()
	var (
		mu      sync.Mutex
		details []string
	)
	m, err := New(Options{
		Binary:     os.Args[0],
		ProfileDir: filepath.Join(dir, "vpn"),
		RunDir:     filepath.Join(dir, "run"),
		MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 400 * time.Millisecond,
		OnChange: func(st Status) {
			mu.Lock()
			defer mu.Unlock()
			if st.State == StateRestarting {
				details = append(details, st.Detail)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Stored directly: the dry run would (rightly) refuse it.
	p, err := ParseProfile([]byte(base()), "fake.ovpn", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.store.saveProfile(p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}()
	m.SetUplink(true, "wan")
	waitStatus(t, m, 20*time.Second, "five restarts", func(st Status) bool { return st.Restarts >= 5 })
	st := m.Status()
	if !strings.Contains(st.LastError, "fake failure at startup") || strings.Contains(st.LastError, "--help") {
		t.Errorf("last error = %q", st.LastError)
	}
	mu.Lock()
	got := append([]string(nil), details...)
	mu.Unlock()
	want := []string{"50ms", "100ms", "200ms", "400ms", "400ms"}
	if len(got) < len(want) {
		t.Fatalf("restart details %q", got)
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i], "restarting in "+w) {
			t.Errorf("restart %d: %q, want wait %s", i+1, got[i], w)
		}
	}

	// A new uplink starts the backoff over.
	mu.Lock()
	mark := len(details)
	mu.Unlock()
	m.SetUplink(true, "lte")
	waitStatus(t, m, 10*time.Second, "two more restarts", func(Status) bool {
		mu.Lock()
		defer mu.Unlock()
		return len(details) >= mark+2
	})
	mu.Lock()
	after := details[mark : mark+2]
	mu.Unlock()
	if !strings.HasSuffix(after[0], "restarting in 50ms") && !strings.HasSuffix(after[1], "restarting in 50ms") {
		t.Errorf("after an uplink change: %q, want the backoff back at 50ms", after)
	}
}
