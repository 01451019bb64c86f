// Command init is PID 1 of an edgebox: it mounts the kernel filesystems,
// loads the board's kernel modules, mounts /perm, names the host, pets the
// hardware watchdog, supervises the box services and shuts the box down
// cleanly. It does little and does it in order; a step that fails is logged
// and the boot goes on, so that a half-working box is still reachable.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"edgebox/api/gatewayapi"
	"edgebox/boards"
	"edgebox/internal/bootslot"
	"edgebox/internal/config"
	"edgebox/internal/firewall"
	"edgebox/internal/localapi"
	"edgebox/internal/paths"
	"edgebox/internal/supervise"
	"edgebox/internal/sysapi"
	"edgebox/internal/version"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "init: must run as PID 1 (it mounts, reboots and reaps)")
		os.Exit(1)
	}
	booted := time.Now()
	log := consoleLogger()
	slog.SetDefault(log)
	ver := version.String()
	fmt.Fprintf(os.Stderr, "\nedgebox init %s starting\n", ver)

	for _, err := range mountEarly() {
		log.Error("early mount", "err", err)
	}
	// Boot phases count from the kernel starting /init (the boot's goal);
	// "main" is how long the Go runtime took before main ran.
	clock := bootClock{start: kernelHandover(booted), w: os.Stderr}
	writePhase(os.Stderr, "main", booted.Sub(clock.start))
	cmdline, _ := os.ReadFile("/proc/cmdline")
	cl := string(cmdline)
	board, known, why := boards.Detect(boards.ReadDMI("/sys"), boards.CmdlineValue(cl, "edgebox.board"))
	if known {
		log.Info("board detected", "board", board.Name, "why", why)
	} else {
		log.Warn("board not recognised", "board", board.Name, "why", why)
	}

	var uts unix.Utsname
	unix.Uname(&uts)
	modDir := "/lib/modules/" + unix.ByteSliceToString(uts.Release[:])
	mods := loadModules(context.Background(), modDir, board, cl, clock, log)
	// The watchdog is armed as soon as its driver is in (see liveness).
	if board.Watchdog != "" {
		mods.waitModule(board.Watchdog)
	}
	wdCtx, stopPetting := context.WithCancel(context.Background())
	defer stopPetting()
	live := bootLiveness(time.Now().Add(bootDeadline(cl)), time.Now)
	wd := petWatchdog(wdCtx, live.alive, log)
	debugHangBoot(cl, log)
	for _, err := range applySysctls("/proc/sys", boxSysctls) {
		log.Warn("kernel setting", "err", err)
	}
	for _, err := range applySysctls("/sys", boxKernelMM) {
		log.Warn("kernel setting", "err", err)
	}
	// While /perm is found, checked and mounted: a closed firewall as soon
	// as nftables is in, then the default LAN ports' links up as their
	// drivers register them, so that a NIC's link negotiation (e1000e's
	// ~2.5 s) overlaps /perm instead of starting after it.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		mods.waitFirewall()
		if closedFirewall(log) {
			go raiseLAN(config.DefaultNetwork(), board, mods.afterFirst, log)
		}
	}()
	// /perm needs only its disk (its driver comes by hotplug) and ext4; its
	// check and mount overlap the rest of the modules.
	mods.waitModule("ext4")
	tools := e2fsprogs()
	// A perm disk behind USB: its driver is in the later batch, started
	// once the first is in and the disk still not found.
	tools.stillLooking = func() { mods.afterFirst(mods.startLater) }
	driversIn := make(chan struct{})
	mods.afterFirst(func() { close(driversIn) })
	tools.driversIn = driversIn
	perm := setupPerm("/sys", "/dev", boards.CmdlineValue(cl, "edgebox.perm"), paths.PermDir(), tools)
	switch perm.state {
	case permMounted:
		log.Info("/perm mounted", "device", perm.device, "note", perm.note)
		os.MkdirAll(paths.SecretsDir(), 0o700)
		randomSeed(filepath.Join(paths.SecretsDir(), "random-seed"), creditEntropy, log)
	default:
		log.Error("running WITHOUT /perm: settings cannot be saved until this is fixed",
			"state", perm.state, "why", perm.note)
	}

	clock.phase("perm")
	if perm.state == permMounted {
		bootslot.FactoryResetAtBoot(cl, log)
	}
	cfg, configNote := loadConfig(log)
	// The firewall needs only nftables: the NIC and USB drivers go on
	// loading beside it and the services. The boot table matches ports by
	// name and drops what it does not name, so a port whose driver comes
	// later is covered from its first packet; netctl takes it when it
	// appears (a link event). A LAN port the table cannot name yet (a
	// board that knows its NICs by PCI address only) waits for the NIC
	// drivers: the setup page must stay reachable if netctl never starts.
	<-closed // replaced, never loaded over the boot table
	if !bootLANNamed(cfg.Network, board) {
		mods.waitNICs()
	}
	bootFirewall(cfg.Network, board, log)
	go guardStandIns(cfg.Network, board, "/sys", log, netlink.LinkSubscribe, firewall.ReloadBoot) // lateusb.go
	clock.phase("firewall")
	mods.afterFirst(func() {
		mods.wait()
		clock.phase("modules")
	})
	if err := netlink.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Name: "lo"}}); err != nil {
		log.Error("loopback up", "err", err)
	}
	go raiseLAN(cfg.Network, board, mods.afterFirst, log)
	hostname := setHostname(cfg.System.Hostname, board, log)
	os.MkdirAll(paths.RunDir(), 0o755)

	remote := newRemoteLog(hostname)
	if err := remote.SetTarget(cfg.System.Syslog); err != nil {
		log.Warn("remote syslog", "err", err)
	}
	// The boot's goal, timed from inside: web's /healthz on loopback first
	// answering with every service running. Asked from when all are up
	// (it cannot be healthy before), not to take CPU from their start.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var probe sync.Once
	onUp := allUp(len(boxServices()), func() {
		mods.startLater()
		probe.Do(func() {
			go watchLocalHealth(ctx, localHealthURL, 20*time.Millisecond, func() {
				clock.phase("healthz")
				mods.healthy()
			})
		})
	})
	sup, err := newSupervisor(board.Name, remote, func(name string) {
		clock.phase("service-up-" + name)
		onUp(name)
	}, log)
	if err != nil {
		log.Error("service table is broken; nothing will run", "err", err)
		select {}
	}
	go sup.Run(ctx)
	// A service that never comes up must not keep the modem's drivers out.
	time.AfterFunc(5*time.Second, mods.startLater)

	live.set(sup.Heartbeat)
	power := make(chan string, 1)
	bootDisk, diskErr := findBootDisk("/sys", "/dev")
	slots := bootslot.Start(ctx, bootslot.Config{Log: log, Services: sup.Status, Power: power,
		Board: board.Name, Version: ver, Cmdline: cl, Disk: bootDisk, DiskErr: diskErr})
	slots.WatchFrontButton("/sys")
	info := sysapi.System{Board: board.Name, Hostname: hostname, Version: ver,
		Slot: boards.CmdlineValue(cl, "edgebox.slot"), Perm: perm.state, PermNote: perm.note, Watchdog: wd, ConfigNote: configNote}
	api := &apiServer{sup: sup, booted: booted, power: power, slots: slots, mem: newMemoryCache("/proc"),
		info: func() sysapi.System { s := info; slots.Fill(&s); return s },
		reloadSelf: func() error {
			c, err := config.LoadDefault()
			if err != nil {
				return err
			}
			return remote.SetTarget(c.System.Syslog)
		}}
	if l, err := localapi.Listen(sysapi.SocketName); err != nil {
		log.Error("system API", "err", err)
	} else {
		go localapi.Serve(ctx, l, api.handler())
	}

	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGUSR2, syscall.SIGINT)
	// Ctrl-Alt-Del becomes SIGINT for PID 1 instead of an instant reset.
	unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	watchPowerButton("/sys", power, log)
	debugHang(cl, sup, log)
	fmt.Fprintf(os.Stderr, "edgebox init: %s up on %s as %s in %s\n", ver, board.Name, hostname,
		time.Since(booted).Round(time.Millisecond))
	clock.phase("up")
	printLANAddress(os.Stderr, cfg.Network)

	action := shutdownRequested(signals, power, log)
	drainGateway(gatewayapi.NewClient(), action, log)
	sup.Shutdown()
	remote.Close(2 * time.Second) // the services' last lines, over TCP
	cancel()
	stopPetting() // the watchdog stays armed: a hang in shutdown resets the box
	finish(action, log)
}

// consoleLogger logs init's lines to the console, without the time: the
// console has no clock worth printing early.
func consoleLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})).With("who", "init")
}

// loadConfig reads the settings; an unreadable file leaves the box on the
// defaults (the file untouched) and a note that the system API shows.
func loadConfig(log *slog.Logger) (cfg *config.Config, note string) {
	cfg, err := config.LoadDefault()
	if err == nil {
		// A damaged file was passed over for the previous version: say so.
		if _, note, _ := config.ReadFile(paths.ConfigFile()); note != "" {
			log.Error("config damaged; the services run on the previous version", "note", note)
			return cfg, note
		}
		return cfg, ""
	}
	log.Error("config unreadable; using defaults and not touching the file", "err", err)
	note = "config unreadable, running on defaults: " + err.Error()
	if errors.Is(err, config.ErrNewerSchema) {
		note = "the config was written by a newer firmware; this one runs on defaults and keeps the file read-only (settings changes are refused): " + err.Error()
	}
	return config.Default(), note
}

// shutdownRequested waits for a shutdown: SIGTERM or SIGINT (Ctrl-Alt-Del)
// reboot, SIGUSR2 powers off, or the API or a button asks on power.
func shutdownRequested(signals <-chan os.Signal, power <-chan string, log *slog.Logger) (action string) {
	select {
	case s := <-signals:
		action = "reboot"
		if s == syscall.SIGUSR2 {
			action = "poweroff"
		}
		log.Info("shutdown requested by signal", "signal", s.String(), "action", action)
	case action = <-power:
		log.Info("shutdown requested", "action", action)
	}
	return action
}

// debugHang makes PID 1's main loop hang N seconds after boot when the
// kernel command line says edgebox.debug.hang=N: the test that the hardware
// watchdog really resets a box whose init is stuck.
func debugHang(cmdline string, sup *supervise.Supervisor, log *slog.Logger) {
	v := boards.CmdlineValue(cmdline, "edgebox.debug.hang")
	n, err := strconv.Atoi(v)
	if v == "" || err != nil || n < 0 {
		return
	}
	go func() {
		time.Sleep(time.Duration(n) * time.Second)
		log.Warn("edgebox.debug.hang: hanging init's main loop on purpose; the watchdog should reset the box")
		sup.Hang()
	}()
}
