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
var boxSysctls = map[string]string{
	"net/core/rmem_max": "8388608",
	"net/core/wmem_max": "8388608",
}

// applySysctls writes settings below procSys (normally /proc/sys).
func applySysctls(procSys string, settings map[string]string) []error {
	var errs []error
	for key, val := range settings {
		p := filepath.Join(procSys, key)
		if err := os.WriteFile(p, []byte(val+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), val, err))
		}
	}
	return errs
}
