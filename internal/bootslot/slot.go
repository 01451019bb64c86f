// Package bootslot is the update side of init (docs/updates.md): at boot it
// finds out whether this slot is confirmed (the MBR's active partition) or
// on trial after an update; a trial runs the health check and confirms the
// slot only when the box is well, else it records why and reboots into the
// old slot. It also serves the update and factory-reset API (bundles are
// installed by init, which owns the disk) and watches the front button.
package bootslot

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"edgebox/boards"
	"edgebox/internal/paths"
	"edgebox/internal/sysapi"
	"edgebox/internal/update"
)

// Test hooks on the kernel command line (documented in docs/updates.md).
const (
	// cmdTrialFail makes the trial's health check fail at once.
	cmdTrialFail = "edgebox.debug.trialfail"
	// cmdTrialTimeout overrides how long a trial may take to get healthy (s).
	cmdTrialTimeout = "edgebox.trial.timeout"
	// cmdFactoryReset=erase-TOKEN erases the settings once per token.
	cmdFactoryReset = "edgebox.factory_reset"
)

// defaultTrialTimeout is how long a trial has for every service, the web
// service and (if one was up before) an uplink or the VPN.
const defaultTrialTimeout = 5 * time.Minute

// Config is what the slot service needs from init.
type Config struct {
	Log *slog.Logger
	// Services lists the supervised services (the trial's health check).
	Services func() []sysapi.Service
	// Power takes "reboot" (a failed trial, an update asking for it, a
	// factory reset); a full channel means a shutdown is already on.
	Power   chan<- string
	Board   string
	Version string
	Cmdline string
	// Disk is the whole-disk device of the boot disk; DiskErr says why it
	// was not found (updates and trial boots are then off).
	Disk    string
	DiskErr error
}

// Slot is this boot's slot; the API handlers and the health check
// goroutine share it under mu.
type Slot struct {
	log      *slog.Logger
	services func() []sysapi.Service
	power    chan<- string
	board    string
	version  string
	cmdline  string
	disk     string // whole-disk device of the boot disk ("" if not found)
	store    update.Store

	mu      sync.Mutex
	boot    update.BootState
	health  *update.HealthStatus
	install *update.Progress
	busy    bool
	diskErr string
}

// Start works out this boot's state and starts the trial's health check
// when the slot is on trial.
func Start(ctx context.Context, c Config) *Slot {
	log, version := c.Log, c.Version
	s := &Slot{log: log, services: c.Services, power: c.Power, board: c.Board, version: version, cmdline: c.Cmdline,
		store: update.Store{Dir: filepath.Join(paths.DataDir(), "update")}}
	s.boot.Slot = boards.CmdlineValue(c.Cmdline, "edgebox.slot")
	if c.Disk == "" {
		err := c.DiskErr
		if err == nil {
			err = errors.New("no boot disk given")
		}
		s.diskErr = err.Error()
		log.Warn("boot disk not found; updates and trial boots are off", "err", err)
		return s
	}
	s.disk = c.Disk
	d, err := update.OpenDisk(c.Disk)
	if err != nil {
		s.diskErr = err.Error()
		log.Error("boot disk unreadable; updates and trial boots are off", "err", err)
		return s
	}
	bs, err := update.Boot(d, s.boot.Slot, s.store, time.Now())
	d.Close()
	s.boot = bs
	if err != nil {
		log.Error("boot slot state", "err", err)
	}
	switch {
	case bs.RolledBack != nil:
		log.Error("ROLLED BACK: the update did not confirm; running the previous firmware again",
			"slot", bs.Slot, "failed_slot", bs.RolledBack.Slot, "failed_version", bs.RolledBack.Version, "why", bs.RolledBack.Reason)
	case bs.OnTrial:
		log.Warn("this slot runs on TRIAL after an update; confirming it once the box is healthy",
			"slot", bs.Slot, "version", version, "fallback", bs.Active)
		s.health = &update.HealthStatus{State: "checking"}
		go s.trial(ctx)
	default:
		log.Info("boot slot confirmed", "slot", bs.Slot, "version", version)
	}
	return s
}

// Fill adds the update state to init's system view.
func (s *Slot) Fill(sys *sysapi.System) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sys.Slot = s.boot.Slot
	sys.Confirmed = s.disk != "" && !s.boot.OnTrial
	if s.boot.RolledBack != nil {
		sys.RollbackReason = s.boot.RolledBack.Reason
	}
}

// reboot asks init to reboot; when a shutdown is already on, that one wins.
func (s *Slot) reboot() {
	select {
	case s.power <- "reboot":
	default:
	}
}
