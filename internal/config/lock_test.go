package config

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestLockSerialisesProcesses: while one process holds the config lock,
// another (flock(1), a separate process as netctl is to web) waits for it.
func TestLockSerialisesProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	release := Lock(path)
	cmd := exec.Command("flock", "-n", path+".lock", "true")
	if err := cmd.Run(); err == nil {
		t.Fatal("another process took the config lock while it was held")
	}
	release()
	done := make(chan error, 1)
	go func() { done <- exec.Command("flock", "-w", "10", path+".lock", "true").Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the lock was not free after its release: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("flock did not return")
	}
}
