package main

import (
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"edgebox/boards"
	"edgebox/internal/kmod"
)

// debugLateModule makes one boot module late when the kernel command line
// says edgebox.debug.late_module=NAME:SECONDS: NAME leaves the boot's
// batches and is loaded SECONDS after /healthz first answered on the box
// (after is closed then). It is how a test shows that the firewall and the
// services come up without a slow driver (a NIC whose probe takes long on
// a real board) — were anything waiting for it, /healthz would never
// answer — and that a network port appearing after they started is taken
// and covered by the firewall. Without the setting it returns first and
// later unchanged and late nil.
func debugLateModule(cmdline string, first, later []string, log *slog.Logger) (f, l []string, late func(ld *kmod.Loader, after <-chan struct{})) {
	name, secs, ok := parseLateModule(boards.CmdlineValue(cmdline, "edgebox.debug.late_module"))
	if !ok {
		return first, later, nil
	}
	drop := func(m string) bool { return m == name }
	f = slices.DeleteFunc(slices.Clone(first), drop)
	l = slices.DeleteFunc(slices.Clone(later), drop)
	log.Warn("edgebox.debug.late_module: holding a kernel module back on purpose", "module", name, "seconds", secs)
	return f, l, func(ld *kmod.Loader, after <-chan struct{}) {
		<-after
		time.Sleep(time.Duration(secs) * time.Second)
		n, errs := ld.Load([]string{name})
		log.Warn("edgebox.debug.late_module: late kernel module loaded", "module", name, "inserted", n, "errs", errs)
	}
}

// parseLateModule parses "NAME:SECONDS".
func parseLateModule(v string) (name string, secs int, ok bool) {
	name, s, found := strings.Cut(v, ":")
	n, err := strconv.Atoi(s)
	if !found || name == "" || err != nil || n < 0 || n > 600 {
		return "", 0, false
	}
	return kmod.Name(name), n, true
}
