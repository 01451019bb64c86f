package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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

// fakeProcess writes a process's stat and smaps_rollup under proc.
func fakeProcess(t *testing.T, proc, pid, pgrp, rssKB string) {
	t.Helper()
	dir := filepath.Join(proc, pid)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "stat"), []byte(pid+" (svc) S 1 "+pgrp+" "+pgrp+" 0\n"), 0o644)
	if err := os.WriteFile(filepath.Join(dir, "smaps_rollup"), []byte("Rss: "+rssKB+" kB\nPss: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServiceMemoryReadAtMostOncePerInterval: init's status (asked by
// every /healthz web answers, every 20 ms by init's own boot probe) reads
// /proc for memory at most once per maxAge, and again at once for a
// service process it has not read (a restart).
func TestServiceMemoryReadAtMostOncePerInterval(t *testing.T) {
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	fakeProcess(t, proc, "300", "300", "1000")
	now := time.Unix(1700000000, 0)
	c := newMemoryCache(proc)
	c.now = func() time.Time { return now }
	rss := func(svcs []sysapi.Service) int64 {
		c.fill(svcs)
		return svcs[0].RSSKB
	}
	one := func() []sysapi.Service { return []sysapi.Service{{Name: "netctl", PID: 300}} }
	if got := rss(one()); got != 1000 {
		t.Fatalf("first reading: rss %d, want 1000", got)
	}
	fakeProcess(t, proc, "300", "300", "2000")
	now = now.Add(c.maxAge / 2)
	if got := rss(one()); got != 1000 {
		t.Errorf("within maxAge: rss %d, want the reading kept (1000)", got)
	}
	now = now.Add(c.maxAge)
	if got := rss(one()); got != 2000 {
		t.Errorf("after maxAge: rss %d, want /proc read again (2000)", got)
	}
	fakeProcess(t, proc, "301", "301", "3000")
	two := []sysapi.Service{{Name: "netctl", PID: 301}}
	if got := rss(two); got != 3000 {
		t.Errorf("a restarted service's new process: rss %d, want it read at once (3000)", got)
	}
}
