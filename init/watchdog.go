package main

import (
	"context"
	"log/slog"
	"time"

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
					log.Error("init's main loop is not answering; no longer petting the watchdog", "reset_within", timeout)
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

// heartbeat reports whether the supervisor loop ran a no-op within 5 s.
func heartbeat(s *Supervisor) bool {
	done := make(chan struct{})
	go func() { s.do(func() {}); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}
