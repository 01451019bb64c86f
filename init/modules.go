package main

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"edgebox/boards"
	"edgebox/internal/kmod"
)

// bootModules is the boot's module loading, running in the background.
type bootModules struct {
	// wait waits for the first batch (the disk, nftables, the NICs, USB
	// hosts, the watchdog) and logs it once; the boot phase "modules".
	// Nothing on the way to the services waits for it any more.
	wait func()
	// waitModule waits only for one module (/perm for ext4, the watchdog).
	waitModule func(name string)
	// waitFirewall waits for the nftables modules: the boot firewall's and
	// the ones netctl's ruleset uses (NAT, reject, fib), all on the
	// board's list.
	waitFirewall func()
	// waitNICs waits for the drivers of the network cards present.
	waitNICs func()
	// afterFirst runs fn in the background once the first batch is in.
	afterFirst func(fn func())
	// healthy tells the loader that /healthz answered on the box (the
	// edgebox.debug.late_module test setting waits for it).
	healthy func()
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
func loadModules(ctx context.Context, dir string, board boards.Profile, cmdline string, clock bootClock, log *slog.Logger) bootModules {
	start := time.Now()
	l, err := kmod.Open(dir)
	if err != nil {
		log.Error("kernel modules unreadable; drivers will be missing", "dir", dir, "err", err)
		nothing := func() {}
		return bootModules{wait: nothing, healthy: nothing, waitModule: func(string) {}, waitFirewall: nothing, waitNICs: nothing,
			afterFirst: func(fn func()) { go fn() }, startLater: nothing}
	}
	// Closed once the boot's NIC drivers are in (see below); a network
	// device that shows up before waits for it (serveHotplug).
	nicsDone := make(chan struct{})
	// Subscribe before scanning sysfs: a device is then in one or the other.
	hp, err := kmod.ListenHotplug()
	if err != nil {
		log.Error("no hotplug events: devices plugged in later get no driver", "err", err)
	} else {
		go serveHotplug(ctx, l, hp, nicsDone, log)
	}
	opened := time.Now()
	devices := kmod.Modaliases("/sys")
	scanned := time.Now()
	first, later := splitBootModules(l, devices, board.Modules, board.Watchdog)
	first, later, late := debugLateModule(cmdline, first, later, log)
	firewallMods := firewallModules(first)
	nics := nicModules(l, "/sys", first)
	clock.phase("modules-start")
	log.Info("kernel modules chosen", "devices", len(devices), "first", len(first), "later", len(later),
		"read_tables", opened.Sub(start).Round(time.Millisecond), "scan_sysfs", scanned.Sub(opened).Round(time.Millisecond),
		"match", time.Since(scanned).Round(time.Millisecond))
	// The first batch in two steps, each module a batch of its own (it
	// waits for its own dependencies only, not for the slowest module of a
	// dependency level). First what the firewall, /perm and the watchdog
	// need, alone on the CPU: the box has one slow CPU under QEMU, and
	// ext4 shared it with every NIC and USB probe. Then the rest, beside
	// the services. The NIC drivers load one after the other, in the order
	// of their cards' PCI addresses: the kernel names network ports in the
	// order they register, and a profile that knows its ports by name
	// (QEMU's LAN eth0 on e1000e, WAN eth1 on virtio-net) needs that order.
	critical, rest := criticalModules(l, devices, first, board.Watchdog)
	rest = slices.DeleteFunc(rest, func(m string) bool { return slices.Contains(nics, m) })
	var t tally
	var criticalWG sync.WaitGroup
	for _, m := range critical {
		b := l.Start([]string{m})
		criticalWG.Go(func() { t.add(b.Wait()) })
	}
	firstDone := make(chan struct{})
	go func() {
		criticalWG.Wait()
		var restWG sync.WaitGroup
		for _, m := range rest {
			b := l.Start([]string{m})
			restWG.Go(func() { t.add(b.Wait()) })
		}
		for _, m := range nics {
			t.add(l.Start([]string{m}).Wait())
		}
		close(nicsDone)
		restWG.Wait()
		close(firstDone)
	}()
	healthy := make(chan struct{})
	if late != nil {
		go late(l, healthy)
	}
	var once, logged, healthyOnce sync.Once
	return bootModules{
		healthy: func() { healthyOnce.Do(func() { close(healthy) }) },
		wait: func() {
			<-firstDone
			logged.Do(func() {
				for _, err := range t.errs {
					log.Warn("kernel module", "err", err)
				}
				log.Info("kernel modules loaded", "count", t.loaded, "modules", first, "slowest", l.Slowest(8))
			})
		},
		waitModule: func(name string) {
			if err := l.WaitModule(name); err != nil {
				log.Warn("kernel module", "module", name, "err", err)
			}
		},
		waitFirewall: func() {
			for _, m := range firewallMods {
				if err := l.WaitModule(m); err != nil {
					log.Warn("kernel module for the firewall", "module", m, "err", err)
				}
			}
		},
		waitNICs: func() { <-nicsDone },
		afterFirst: func(fn func()) {
			go func() {
				<-firstDone
				fn()
			}()
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

// tally adds up the first batch's modules, loaded from several goroutines.
type tally struct {
	mu     sync.Mutex
	loaded int
	errs   []error
}

func (t *tally) add(n int, errs []error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.loaded += n
	t.errs = append(t.errs, errs...)
}

// serveHotplug loads the drivers of devices that appear after the boot's
// scan, until ctx ends. A network device waits until the boot's NIC
// drivers are in (nicsLoaded): QEMU's virtio NIC appears only once
// virtio_pci has probed, and its driver loaded at once could register
// before the e1000e still probing and take the name eth0, which a board
// that knows its ports by name (qemu, generic) gives the LAN's trust:
// the LAN's web UI and DHCP server were then on the WAN cable, and the
// installer's laptop on the LAN port reached nothing.
func serveHotplug(ctx context.Context, l *kmod.Loader, hp *kmod.Hotplug, nicsLoaded <-chan struct{}, log *slog.Logger) {
	err := hp.Serve(ctx, func(ev kmod.Uevent) {
		mods := l.ForDevices([]string{ev.Modalias})
		if len(mods) == 0 {
			return
		}
		if waitForBootNICs(ev.Modalias, nicsLoaded) {
			go func() {
				select {
				case <-nicsLoaded:
					loadForDevice(l, ev, mods, log)
				case <-ctx.Done():
				}
			}()
			return
		}
		loadForDevice(l, ev, mods, log)
	}, func() {
		log.Warn("hotplug events were lost; rescanning the devices")
		l.Load(l.ForDevices(kmod.Modaliases("/sys")))
	})
	if err != nil {
		log.Error("hotplug events stopped: devices plugged in from now on get no driver", "err", err)
	}
}

// waitForBootNICs reports whether a new device's driver must wait for the
// boot's NIC drivers: it is a network device and they are not all in yet.
func waitForBootNICs(modalias string, nicsLoaded <-chan struct{}) bool {
	if !nicDevice(modalias) {
		return false
	}
	select {
	case <-nicsLoaded:
		return false
	default:
		return true
	}
}

// loadForDevice loads a new device's modules and logs what it took.
func loadForDevice(l *kmod.Loader, ev kmod.Uevent, mods []string, log *slog.Logger) {
	start := time.Now()
	n, errs := l.Load(mods)
	for _, err := range errs {
		log.Warn("kernel module for a new device", "device", ev.DevPath, "err", err)
	}
	if n > 0 {
		log.Info("kernel modules for a new device", "device", ev.DevPath, "modules", mods, "loaded", n,
			"took", time.Since(start).Round(time.Millisecond))
	}
}
