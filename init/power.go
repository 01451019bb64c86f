package main

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"edgebox/api/gatewayapi"
	"edgebox/internal/config"
)

// watchPowerButton turns a press of the ACPI power button (QEMU's
// system_powerdown, a short press on boards that have one) into a clean
// power-off. The kernel reports it as KEY_POWER on an input device named
// "Power Button".
func watchPowerButton(sysRoot string, power chan<- string, log *slog.Logger) {
	devs, _ := filepath.Glob(filepath.Join(sysRoot, "class/input/input*"))
	for _, d := range devs {
		name, _ := os.ReadFile(filepath.Join(d, "name"))
		if strings.TrimSpace(string(name)) != "Power Button" {
			continue
		}
		evs, _ := filepath.Glob(filepath.Join(d, "event*"))
		for _, ev := range evs {
			f, err := os.Open("/dev/input/" + filepath.Base(ev))
			if err != nil {
				log.Warn("cannot watch power button", "err", err)
				continue
			}
			log.Info("watching the power button", "device", f.Name())
			go readPowerEvents(f, power)
		}
	}
}

const (
	evKey    = 1
	keyPower = 116
)

// readPowerEvents reads struct input_event (64-bit: 16 bytes of time, type,
// code, value) until a KEY_POWER press.
func readPowerEvents(r io.ReadCloser, power chan<- string) {
	defer r.Close()
	var ev [24]byte
	for {
		if _, err := io.ReadFull(r, ev[:]); err != nil {
			return
		}
		typ := binary.LittleEndian.Uint16(ev[16:])
		code := binary.LittleEndian.Uint16(ev[18:])
		value := int32(binary.LittleEndian.Uint32(ev[20:]))
		if typ == evKey && code == keyPower && value == 1 {
			select {
			case power <- "poweroff":
			default:
			}
		}
	}
}

// drainGateway asks the gateway to take no new calls and waits until its
// live calls end or its drain limit (gateway.drain_limit_sec) passes, so a
// reboot, power-off or update cuts no call (docs/fleet.md, section 6). A
// gateway that does not answer has no calls to keep: go on.
func drainGateway(c gatewayapi.Client, action string, log *slog.Logger) {
	c.HTTP.Timeout = 0 // the wait is bounded by the gateway's limit and ctx
	ctx, cancel := context.WithTimeout(context.Background(), (config.MaxDrainLimitSec+60)*time.Second)
	defer cancel()
	var d struct {
		ActiveCalls int  `json:"active_calls"`
		LimitSec    int  `json:"limit_sec"`
		TimedOut    bool `json:"timed_out"`
	}
	start := time.Now()
	log.Info("before the " + action + ": draining the gateway (no new calls; waiting for live ones to end)")
	if err := c.Post(ctx, "/v1/drain?wait=1", struct{}{}, &d); err != nil {
		log.Info("gateway not drained (not running?); going on", "action", action, "err", err)
		return
	}
	took := time.Since(start).Round(time.Millisecond)
	if d.TimedOut {
		log.Warn("drain limit reached: calls still live are cut by the "+action, "active_calls", d.ActiveCalls, "limit_sec", d.LimitSec, "took", took)
		return
	}
	log.Info("gateway drained; going on with the "+action, "took", took)
}

// finish syncs and unmounts /perm, then restarts or powers off the
// machine. It does not return.
func finish(action string, log *slog.Logger) {
	unix.Sync()
	if err := unix.Unmount("/perm", 0); err != nil && err != unix.EINVAL {
		log.Warn("unmount /perm failed; remounting read-only", "err", err)
		unix.Mount("", "/perm", "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
	} else {
		log.Info("/perm unmounted")
	}
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_POWER_OFF
	if action == "reboot" {
		cmd = unix.LINUX_REBOOT_CMD_RESTART
	}
	log.Info("edgebox: " + action + " now")
	unix.Reboot(cmd)
	select {} // PID 1 must never exit
}
