package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestInitRunAtReadsTheKernelLog(t *testing.T) {
	kmsg := "6,812,10539968,-;Write protecting the kernel read-only data: 26624k\n" +
		"6,815,10677227,-;Run /init as init process\n" +
		" SUBSYSTEM=x\n" +
		"5,816,13860115,-;clocksource: Long readout interval\n"
	at, ok := initRunAt(strings.NewReader(kmsg))
	if !ok || at != 10677227*time.Microsecond {
		t.Errorf("got %v %v, want 10.677227s", at, ok)
	}
	if _, ok := initRunAt(strings.NewReader("6,1,5,-;Run /sbin/init as init process?\n")); ok {
		t.Error("matched a line that is not the handover")
	}
}

func TestBootPhaseLine(t *testing.T) {
	var b strings.Builder
	writePhase(&b, "modules", 1234567*time.Microsecond)
	if b.String() != "edgebox phase modules +1234ms\n" {
		t.Errorf("%q: the boot benchmark parses this format", b.String())
	}
}

// PID 1 is built apart from the busybox binary (image/initramfs.go) so
// that no package initialiser runs before main and waits for the kernel's
// random pool; pion's do (pion/rtp seeds from crypto/rand). This keeps
// them out of init.
func TestInitLinksNoPion(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/pion/") {
			t.Errorf("init links %s, whose initialisers may wait for the random pool before main runs", pkg)
		}
	}
}
