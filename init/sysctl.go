package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// boxSysctls are kernel settings the services rely on. The gateway relays
// every call's media through one UDP port: at a few hundred calls the
// kernel's default 208 KiB socket buffer overflows (measured by calldial),
// so sockets may ask for up to 8 MiB.
//
// IPv6 router advertisements and ICMP redirects are refused on every
// interface: any LAN host (or the VPN's tap) could otherwise make itself
// the box's IPv6 default router, or reroute a destination, and see every
// connection the box makes to a dual-stack name. The box takes its routes
// from netctl only. "*" settings reach the interfaces that exist already,
// "default" those that come later (a NIC whose driver is still loading
// when init applies them, the modem, the tunnel).
var boxSysctls = map[string]string{
	"net/core/rmem_max": "8388608",
	"net/core/wmem_max": "8388608",

	"net/ipv6/conf/*/accept_ra":        "0",
	"net/ipv6/conf/*/autoconf":         "0",
	"net/ipv6/conf/*/accept_redirects": "0",
	"net/ipv4/conf/*/accept_redirects": "0",
}

// boxKernelMM are the box's memory-management settings below /sys.
// Transparent huge pages only where a program asks for them (madvise):
// Debian's kernel gives them to every anonymous mapping ("always"), so a
// Go service's heap and runtime metadata, a few hundred kB each at idle,
// were backed by whole 2 MB pages and kept resident as such. The Go
// runtime asks for none, and nothing else on the box needs them.
var boxKernelMM = map[string]string{
	"kernel/mm/transparent_hugepage/enabled": "madvise",
}

// applySysctls writes settings below procSys (normally /proc/sys). A key
// with a "*" is written wherever it matches ("all" and "default"
// included).
func applySysctls(procSys string, settings map[string]string) []error {
	var errs []error
	for key, val := range settings {
		ps := []string{filepath.Join(procSys, key)}
		if strings.Contains(key, "*") {
			ps, _ = filepath.Glob(ps[0])
			if len(ps) == 0 {
				errs = append(errs, fmt.Errorf("sysctl %s=%s: nothing matches", strings.ReplaceAll(key, "/", "."), val))
			}
		}
		for _, p := range ps {
			if err := os.WriteFile(p, []byte(val+"\n"), 0o644); err != nil {
				errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(strings.TrimPrefix(p, procSys+"/"), "/", "."), val, err))
			}
		}
	}
	return errs
}
