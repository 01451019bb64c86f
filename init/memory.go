package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"edgebox/internal/sysapi"
)

// memory is what /proc says a set of processes uses, in kB.
type memory struct{ rss, pss, anon int64 }

// groupMemory sums the memory of every process by process group: each
// service runs in its own group (the supervisor starts it with Setpgid),
// so a service's helpers (openvpn, pppd) count for it.
func groupMemory(procRoot string) map[int]memory {
	out := map[int]memory{}
	ents, _ := os.ReadDir(procRoot)
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		pgrp, ok := processGroup(filepath.Join(procRoot, e.Name(), "stat"))
		if !ok {
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
	groups := groupMemory(procRoot)
	for i := range services {
		if services[i].PID == 0 {
			continue
		}
		m := groups[services[i].PID]
		services[i].RSSKB, services[i].PSSKB, services[i].AnonKB = m.rss, m.pss, m.anon
	}
}
