package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgebox/internal/sysapi"
)

// memory is what /proc says a set of processes uses, in kB.
type memory struct{ rss, pss, anon int64 }

// groupMemory sums the memory of the processes in the process groups
// wanted: each service runs in its own group (the supervisor starts it
// with Setpgid), so a service's helpers (openvpn, pppd) count for it.
// Only their smaps_rollup is read: the kernel walks a process's page
// tables to write it, which under QEMU's TCG takes milliseconds a process.
func groupMemory(procRoot string, wanted map[int]bool) map[int]memory {
	out := map[int]memory{}
	ents, _ := os.ReadDir(procRoot)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		pgrp, ok := processGroup(filepath.Join(procRoot, e.Name(), "stat"))
		if !ok || !wanted[pgrp] {
			continue
		}
		m := processMemory(filepath.Join(procRoot, e.Name()))
		sum := out[pgrp]
		sum.rss += m.rss
		sum.pss += m.pss
		sum.anon += m.anon
		out[pgrp] = sum
	}
	return out
}

// processGroup reads field 5 of /proc/PID/stat; the command name before it
// is in parentheses and may hold spaces and parentheses itself.
func processGroup(statPath string) (int, bool) {
	b, err := os.ReadFile(statPath)
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return 0, false
	}
	pgrp, err := strconv.Atoi(f[2])
	return pgrp, err == nil
}

// processMemory reads Rss, Pss and Anonymous from /proc/PID/smaps_rollup.
func processMemory(procDir string) memory {
	var m memory
	f, err := os.Open(filepath.Join(procDir, "smaps_rollup"))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "Rss":
			m.rss = n
		case "Pss":
			m.pss = n
		case "Anonymous":
			m.anon = n
		}
	}
	return m
}

// fillMemory adds each running service's memory to the status list.
func fillMemory(procRoot string, services []sysapi.Service) {
	wanted := map[int]bool{}
	for _, s := range services {
		if s.PID != 0 {
			wanted[s.PID] = true
		}
	}
	setMemory(groupMemory(procRoot, wanted), services)
}

func setMemory(groups map[int]memory, services []sysapi.Service) {
	for i := range services {
		if services[i].PID == 0 {
			continue
		}
		m := groups[services[i].PID]
		services[i].RSSKB, services[i].PSSKB, services[i].AnonKB = m.rss, m.pss, m.anon
	}
}

// memoryCache keeps the services' and init's memory read from /proc for
// maxAge. Every /healthz web answers asks init's system status, and
// reading /proc for it cost each answer milliseconds of the box's one
// CPU under TCG: while the boot waited for /healthz, init's own probe
// (every 20 ms) and the host's polls kept that CPU busy scanning /proc
// instead of letting web finish its start. Memory a second old is as good
// for the status page; a service process not in the reading (restarted)
// reads /proc again.
type memoryCache struct {
	procRoot string
	maxAge   time.Duration
	now      func() time.Time

	mu     sync.Mutex
	at     time.Time
	groups map[int]memory
	self   memory
}

func newMemoryCache(procRoot string) *memoryCache {
	return &memoryCache{procRoot: procRoot, maxAge: time.Second, now: time.Now}
}

// fill sets the memory of each running service in services and returns
// init's own.
func (c *memoryCache) fill(services []sysapi.Service) (self memory) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	fresh := c.groups != nil && now.Sub(c.at) < c.maxAge && now.Sub(c.at) >= 0
	wanted := map[int]bool{}
	for _, s := range services {
		if s.PID == 0 {
			continue
		}
		wanted[s.PID] = true
		if _, ok := c.groups[s.PID]; !ok {
			fresh = false
		}
	}
	if !fresh {
		c.groups = groupMemory(c.procRoot, wanted)
		c.self = processMemory(filepath.Join(c.procRoot, "self"))
		c.at = now
	}
	setMemory(c.groups, services)
	return c.self
}
