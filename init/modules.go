package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"edgebox/boards"
	"edgebox/internal/kmod"
)

// bootModules is the boot's module loading, running in the background.
type bootModules struct {
	// wait waits for the first batch (what /perm, the firewall and the
	// NICs need) and logs it; the boot phase "modules".
	wait func()
	// waitModule waits only for one module (/perm for ext4, the watchdog).
	waitModule func(name string)
	// startLater starts the second batch (see modorder.go) at the lowest
	// CPU priority; it runs once, however often it is called, and prints
	// the phase "modules-late".
	startLater func()
}

// loadModules loads the kernel modules of the devices present (their
// modalias matched against modules.alias) and the board's modules that no
// device asks for (filesystems, netfilter, ppp, tun), by dependency level
// and in parallel, in the background: first what the boot's critical path
// needs, the rest when startLater is called. Devices that appear later
// (the USB modem enumerates seconds after boot, a disk once its
// controller's driver probed) get their drivers from the kernel's uevents
// for as long as ctx lives.
func loadModules(ctx context.Context, dir string, board boards.Profile, clock bootClock, log *slog.Logger) bootModules {
	start := time.Now()
	l, err := kmod.Open(dir)
	if err != nil {
		log.Error("kernel modules unreadable; drivers will be missing", "dir", dir, "err", err)
		return bootModules{wait: func() {}, waitModule: func(string) {}, startLater: func() {}}
	}
	// Subscribe before scanning sysfs: a device is then in one or the other.
	hp, err := kmod.ListenHotplug()
	if err != nil {
		log.Error("no hotplug events: devices plugged in later get no driver", "err", err)
	} else {
		go serveHotplug(ctx, l, hp, log)
	}
	opened := time.Now()
	devices := kmod.Modaliases("/sys")
	scanned := time.Now()
	first, later := splitBootModules(l, devices, board.Modules, board.Watchdog)
	clock.phase("modules-start")
	log.Info("kernel modules chosen", "devices", len(devices), "first", len(first), "later", len(later),
		"read_tables", opened.Sub(start).Round(time.Millisecond), "scan_sysfs", scanned.Sub(opened).Round(time.Millisecond),
		"match", time.Since(scanned).Round(time.Millisecond))
	batch := l.Start(first)
	var once sync.Once
	return bootModules{
		wait: func() {
			loaded, errs := batch.Wait()
			for _, err := range errs {
				log.Warn("kernel module", "err", err)
			}
			log.Info("kernel modules loaded", "count", loaded, "modules", first, "slowest", l.Slowest(8))
		},
		waitModule: func(name string) {
			if err := l.WaitModule(name); err != nil {
				log.Warn("kernel module", "module", name, "err", err)
			}
		},
		startLater: func() {
			once.Do(func() {
				go func() {
					loaded, errs := l.StartIdle(later).Wait()
					for _, err := range errs {
						log.Warn("kernel module", "err", err)
					}
					clock.phase("modules-late")
					log.Info("later kernel modules loaded", "count", loaded, "modules", later)
				}()
			})
		},
	}
}

// serveHotplug loads the drivers of devices that appear after the boot's
// scan, until ctx ends.
func serveHotplug(ctx context.Context, l *kmod.Loader, hp *kmod.Hotplug, log *slog.Logger) {
	err := hp.Serve(ctx, func(ev kmod.Uevent) {
		mods := l.ForDevices([]string{ev.Modalias})
		if len(mods) == 0 {
			return
		}
		start := time.Now()
		n, errs := l.Load(mods)
		for _, err := range errs {
			log.Warn("kernel module for a new device", "device", ev.DevPath, "err", err)
		}
		if n > 0 {
			log.Info("kernel modules for a new device", "device", ev.DevPath, "modules", mods, "loaded", n,
				"took", time.Since(start).Round(time.Millisecond))
		}
	}, func() {
		log.Warn("hotplug events were lost; rescanning the devices")
		l.Load(l.ForDevices(kmod.Modaliases("/sys")))
	})
	if err != nil {
		log.Error("hotplug events stopped: devices plugged in from now on get no driver", "err", err)
	}
}
