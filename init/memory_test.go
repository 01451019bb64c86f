package main

import (
	"os"
	"path/filepath"
	"testing"

	"edgebox/internal/sysapi"
)

func TestServiceMemoryCountsItsProcessGroup(t *testing.T) {
	proc := t.TempDir()
	for _, p := range []struct{ pid, stat, rollup string }{
		{"300", "300 (netctl) S 1 300 300 0", "Rss:               12000 kB\nPss:                6000 kB\nAnonymous:          2000 kB\n"},
		{"310", "310 (openvpn) S 300 300 300 0", "Rss:                5000 kB\nPss:                4000 kB\nAnonymous:          1500 kB\n"},
		{"400", "400 (we (ird) name) S 1 400 400 0", "Rss:                9000 kB\nPss:                3000 kB\n"},
		{"500", "500 (other) S 1 500 500 0", "Rss:                1 kB\nPss:                1 kB\n"},
	} {
		dir := filepath.Join(proc, p.pid)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "stat"), []byte(p.stat+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "smaps_rollup"), []byte("55d0-7ffe ---p 00000000 00:00 0  [rollup]\n"+p.rollup), 0o644)
	}
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	svcs := []sysapi.Service{{Name: "netctl", PID: 300}, {Name: "web", PID: 400}, {Name: "gateway"}}
	fillMemory(proc, svcs)
	if svcs[0].RSSKB != 17000 || svcs[0].PSSKB != 10000 {
		t.Errorf("netctl with openvpn: rss %d pss %d, want 17000 10000", svcs[0].RSSKB, svcs[0].PSSKB)
	}
	if svcs[0].AnonKB != 3500 {
		t.Errorf("netctl with openvpn: anonymous %d kB, want 3500", svcs[0].AnonKB)
	}
	if svcs[1].RSSKB != 9000 || svcs[1].PSSKB != 3000 {
		t.Errorf("web: rss %d pss %d, want 9000 3000", svcs[1].RSSKB, svcs[1].PSSKB)
	}
	if svcs[2].RSSKB != 0 {
		t.Errorf("a service that is not running has no memory: %d", svcs[2].RSSKB)
	}
	if m := processMemory("/proc/self"); m.rss <= 0 || m.pss <= 0 {
		t.Errorf("this test's own memory from the real /proc: %+v", m)
	}
}
