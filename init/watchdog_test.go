package main

import (
	"testing"
	"time"
)

// During the boot the watchdog is petted only until the boot deadline, so
// a boot stuck in a module, a disk or fsck is reset; once the supervisor
// runs, its heartbeat decides.
func TestWatchdogLivenessBootThenHeartbeat(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	l := bootLiveness(now.Add(time.Minute), clock)
	if !l.alive() {
		t.Fatal("within the boot deadline: not alive")
	}
	now = now.Add(2 * time.Minute)
	if l.alive() {
		t.Fatal("past the boot deadline with no supervisor: still petted, a hung boot would never be reset")
	}
	beat := true
	l.set(func() bool { return beat })
	if !l.alive() {
		t.Fatal("supervisor answering: not alive")
	}
	beat = false
	if l.alive() {
		t.Fatal("supervisor not answering: still alive")
	}
}

func TestBootDeadlineFromCmdline(t *testing.T) {
	if d := bootDeadline("console=ttyS0 edgebox.boot_deadline=20"); d != 20*time.Second {
		t.Errorf("boot_deadline=20: %v", d)
	}
	for _, cl := range []string{"", "edgebox.boot_deadline=x", "edgebox.boot_deadline=-1"} {
		if d := bootDeadline(cl); d != defaultBootDeadline {
			t.Errorf("%q: %v, want the default", cl, d)
		}
	}
}
