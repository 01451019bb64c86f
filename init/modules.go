package main

import (
	"context"
	"log/slog"
	"time"

	"edgebox/boards"
	"edgebox/internal/kmod"
)

// loadModules loads the kernel modules of the devices present (their
// modalias matched against modules.alias) and the board's modules that no
// device asks for (filesystems, netfilter, ppp, tun), by dependency level
// and in parallel, in the background. Devices that appear later (the USB
// modem enumerates seconds after boot, a disk once its controller's driver
// probed) get their drivers from the kernel's uevents for as long as ctx
// lives.
//
// It returns at once; wait reports when the boot's modules are in, and
// waitModule lets a step wait only for the module it needs (/perm for ext4).
func loadModules(ctx context.Context, dir string, board boards.Profile, log *slog.Logger) (wait func(), waitModule func(string)) {
	l, err := kmod.Open(dir)
	if err != nil {
		log.Error("kernel modules unreadable; drivers will be missing", "dir", dir, "err", err)
		return func() {}, func(string) {}
	}
	// Subscribe before scanning sysfs: a device is then in one or the other.
	hp, err := kmod.ListenHotplug()
	if err != nil {
		log.Error("no hotplug events: devices plugged in later get no driver", "err", err)
	} else {
		go func() {
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
		}()
	}
	names := l.BootModules(kmod.Modaliases("/sys"), board.Modules)
	batch := l.Start(names)
	wait = func() {
		loaded, errs := batch.Wait()
		for _, err := range errs {
			log.Warn("kernel module", "err", err)
		}
		log.Info("kernel modules loaded", "count", loaded, "modules", names, "slowest", l.Slowest(8))
	}
	waitModule = func(name string) {
		if err := l.WaitModule(name); err != nil {
			log.Warn("kernel module", "module", name, "err", err)
		}
	}
	return wait, waitModule
}
