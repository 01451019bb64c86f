package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"edgebox/boards"

	"github.com/mdlayher/watchdog"
)

// petWatchdog keeps the hardware watchdog (sp5100_tco on APU boards,
// i6300esb under QEMU) from firing while alive() keeps answering. alive
// asks the supervisor's loop for a heartbeat, so a hung PID 1 stops the
// petting and the board resets. It returns a description for the API.
func petWatchdog(ctx context.Context, alive func() bool, log *slog.Logger) string {
	d, err := watchdog.Open()
	if err != nil {
		log.Info("no hardware watchdog", "err", err)
		return "absent"
	}
	timeout, err := d.Timeout()
	if err != nil || timeout <= 0 {
		timeout = 30 * time.Second
	}
	interval := timeout / 3
	log.Info("hardware watchdog armed", "timeout", timeout, "pet_every", interval)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				// Deliberately not closed: the watchdog stays armed through
				// shutdown so a hang there still resets the box.
				return
			case <-t.C:
				if !alive() {
					log.Error("init's main loop is not answering or the boot is stuck; no longer petting the watchdog", "reset_within", timeout)
					continue
				}
				if err := d.Ping(); err != nil {
					log.Error("watchdog ping failed", "err", err)
				}
			}
		}
	}()
	return "armed, timeout " + timeout.String()
}

// defaultBootDeadline bounds the boot from the watchdog's arming to the
// supervisor's first heartbeat. A first boot makes /perm (mke2fs waits for
// the random pool) and a later one checks it; minutes are plenty for both.
const defaultBootDeadline = 5 * time.Minute

// liveness is what the watchdog's petting asks: during the boot, whether
// the boot is still within its deadline; once the supervisor runs, its
// heartbeat. The watchdog is armed early so that a boot that hangs (a
// module, a disk, fsck) is reset as well: on a trial slot that reset is
// what falls back to the old slot.
type liveness struct {
	f atomic.Pointer[func() bool]
}

func bootLiveness(deadline time.Time, now func() time.Time) *liveness {
	l := &liveness{}
	l.set(func() bool { return now().Before(deadline) })
	return l
}

func (l *liveness) set(f func() bool) { l.f.Store(&f) }
func (l *liveness) alive() bool       { return (*l.f.Load())() }

// bootDeadline reads edgebox.boot_deadline=SECONDS (tests shorten it).
func bootDeadline(cmdline string) time.Duration {
	if n, err := strconv.Atoi(boards.CmdlineValue(cmdline, "edgebox.boot_deadline")); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	return defaultBootDeadline
}

// debugHangBoot stops the boot before the services start when the kernel
// command line says edgebox.debug.hang=boot: the test that a boot that
// hangs is reset by the watchdog.
func debugHangBoot(cmdline string, log *slog.Logger) {
	if boards.CmdlineValue(cmdline, "edgebox.debug.hang") != "boot" {
		return
	}
	log.Warn("edgebox.debug.hang=boot: hanging the boot on purpose; the watchdog should reset the box")
	select {}
}
