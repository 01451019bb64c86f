package kmod

import (
	"os"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// StartIdle inserts each module from a thread at nice 19; Start's inserts
// and the threads the Go runtime goes on using keep normal priority.
func TestStartIdleInsertsAtNice19(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/modules.dep", []byte(sampleDep), 0o644)
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	nice := map[string]int{}
	l.isLoaded = func(string) bool { return false }
	l.insert = func(path string) error {
		// getpriority returns 20-nice for a thread (the raw syscall).
		p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		if err != nil {
			return err
		}
		mu.Lock()
		nice[Name(path)] = 20 - p
		mu.Unlock()
		return nil
	}
	if _, errs := l.StartIdle([]string{"cdc_ether"}).Wait(); len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, errs := l.Start([]string{"ext4"}).Wait(); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, n := range nice {
		want := 0
		if name == "cdc_ether" || name == "usbnet" || name == "mii" {
			want = 19
		}
		if n != want {
			t.Errorf("%s inserted at nice %d, want %d", name, n, want)
		}
	}
	if len(nice) < 4 {
		t.Errorf("inserted only %v", nice)
	}
}
