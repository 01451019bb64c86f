package netctl

// The modem behind netctl: the ModemDriver seam, and the real one over
// package modem.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"edgebox/internal/config"
	"edgebox/modem"
)

// ModemDriver is what netctl needs of a modem. *modem.Modem is one; tests
// use a fake.
type ModemDriver interface {
	Device() modem.Device
	ProfileName() string
	PPPOnly() bool
	PreferModemAddress() bool
	Events() <-chan modem.Event
	Identity(ctx context.Context) (modem.Identity, error)
	SIM(ctx context.Context) (modem.SIMStatus, error)
	EnterPIN(ctx context.Context, pin string) error
	Registration(ctx context.Context) (modem.Registration, error)
	Signal(ctx context.Context) (modem.Signal, error)
	Connect(ctx context.Context, apn modem.APN) error
	Disconnect(ctx context.Context) error
	Link(ctx context.Context) (modem.LinkStatus, error)
	Address(ctx context.Context) (modem.IPConfig, error)
	RadioOff(ctx context.Context) error
	// RadioOn reads +CFUN? and switches the radio on when it is off.
	RadioOn(ctx context.Context) error
	Reset(ctx context.Context) error
	// SlotReset power-cycles the modem's slot (an error when the board
	// has no reset line for it).
	SlotReset(ctx context.Context) error
	PPP(apn modem.APN) modem.PPPParams
	// Suspend releases the AT port to pppd when PPPParams.SharedATPort is
	// set; until Resume every command fails with modem.ErrSuspended.
	Suspend(ctx context.Context) error
	// Resume takes the AT port back after pppd exited.
	Resume(ctx context.Context) error
	SendSMS(ctx context.Context, number, text string) (modem.SMS, error)
	ListSMS() ([]modem.SMS, error)
	DeleteSMS(id string) error
	Close() error
}

// atCommander is the optional AT passthrough of a driver.
type atCommander interface {
	AT(ctx context.Context, cmd string, timeout time.Duration) ([]string, error)
}

// ModemOpener finds and opens the modem the config describes.
type ModemOpener interface {
	Open(ctx context.Context, cfg config.Modem) (ModemDriver, error)
}

var _ ModemDriver = (*modem.Modem)(nil)

// realModems detects and opens modems with package modem.
type realModems struct {
	smsDir   string
	stateDir string
	// slotReset gives the recovery's slot reset for the device opened
	// (Service.modemSlotReset); nil: none.
	slotReset func(modem.Device) func() error
	log       *slog.Logger
	// detect and open stand in for modem.Detect and modem.Open in tests
	// (nil: the real ones).
	detect func(context.Context, modem.DetectOptions) ([]modem.Device, error)
	open   func(context.Context, modem.Options) (ModemDriver, error)
	// slotOf names the slot ("mpcie2") of a detected device, "" when
	// unknown; with it, a box with two cards opens the one in the
	// configured slot (modem_voice.go). nil: the first device found.
	slotOf func(modem.Device) string
	// slotResetFor gives the slot reset of a voice modem's slot.
	slotResetFor func(slot string) func(modem.Device) func() error
	voice        bool // a voice modem's opener (forSlot)
}

func (r realModems) Open(ctx context.Context, cfg config.Modem) (ModemDriver, error) {
	if r.detect == nil {
		r.detect = modem.Detect
	}
	var dev modem.Device
	if cfg.Port != "" && cfg.Profile != "" {
		// Both given: nothing to detect.
		if _, err := os.Stat(devPath(cfg.Port)); err != nil {
			moved, merr := r.reenumerated(ctx, cfg)
			if merr != nil {
				return nil, fmt.Errorf("%w: configured port: %v%s", modem.ErrNoModem, err, merr)
			}
			if r.log != nil {
				r.log.Warn("the configured modem port is gone; the card came back on another port", "configured", cfg.Port, "now", moved.Port)
			}
			dev = moved
		} else {
			dev = modem.Device{Port: devPath(cfg.Port), DataPort: devPath(cfg.DataPort), Profile: cfg.Profile, NetIface: cfg.Interface}
		}
		if dev.DataPort != "" && cfg.DataPort != "" {
			if _, err := os.Stat(dev.DataPort); err != nil {
				return nil, fmt.Errorf("%w: configured data port: %v", modem.ErrNoModem, err)
			}
		}
	} else {
		devs, err := r.detect(ctx, modem.DetectOptions{Port: cfg.Port, DataPort: cfg.DataPort, Profile: cfg.Profile, Logger: r.log})
		if err != nil {
			return nil, err
		}
		if len(devs) == 0 {
			return nil, modem.ErrNoModem
		}
		dev, err = r.pick(devs, cfg)
		if err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(r.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("modem state directory: %w", err)
	}
	if err := os.Chmod(r.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("modem state directory: %w", err)
	}
	open := r.open
	if open == nil {
		open = func(ctx context.Context, o modem.Options) (ModemDriver, error) {
			m, err := modem.Open(ctx, o)
			if err != nil {
				return nil, err
			}
			return realModem{m}, nil
		}
	}
	var slotReset func() error
	if r.slotReset != nil {
		slotReset = r.slotReset(dev)
	}
	return open(ctx, modem.Options{Device: dev, SMSDir: r.smsDir, StateDir: r.stateDir, SlotReset: slotReset, Logger: r.log})
}

// reenumerated finds a configured card whose port is gone: after a USB
// reset (a firmware crash, a mode switch) it may come back with other tty
// numbers while ttyUSB2 is still held, as ttyUSB3. It is detected by USB
// like an unconfigured card, and taken only when exactly one card of the
// configured profile answers (and, with a slot configured, sits there);
// with voice modems configured no port is probed, as they may own it.
// The error is a suffix for the caller's message.
func (r realModems) reenumerated(ctx context.Context, cfg config.Modem) (modem.Device, error) {
	if len(cfg.VoiceModems) > 0 {
		return modem.Device{}, fmt.Errorf("; other ports are not searched while voice modems are configured")
	}
	devs, err := r.detect(ctx, modem.DetectOptions{Profile: cfg.Profile, Logger: r.log})
	if err != nil {
		return modem.Device{}, fmt.Errorf("; no other port answers (%v)", err)
	}
	var same []modem.Device
	for _, d := range devs {
		if d.Profile == cfg.Profile && (cfg.Slot == "" || r.slotOf == nil || r.slotOf(d) == cfg.Slot) {
			same = append(same, d)
		}
	}
	if len(same) != 1 {
		var ports []string
		for _, d := range devs {
			ports = append(ports, d.Port+" ("+d.Profile+")")
		}
		return modem.Device{}, fmt.Errorf("; found %d cards of profile %s (%s): set network.modem.port to the right one", len(same), cfg.Profile, strings.Join(ports, ", "))
	}
	if cfg.Interface != "" {
		same[0].NetIface = cfg.Interface
	}
	return same[0], nil
}

// devPath makes a configured tty name (ttyUSB0) a /dev path, as
// modem.Detect does with DevRoot /dev.
func devPath(p string) string {
	if p == "" || strings.Contains(p, "/") {
		return p
	}
	return "/dev/" + p
}

// realModem adds the AT passthrough to *modem.Modem.
type realModem struct{ *modem.Modem }

func (m realModem) AT(ctx context.Context, cmd string, timeout time.Duration) ([]string, error) {
	resp, err := m.Engine().Command(ctx, cmd, timeout)
	lines := resp.Lines
	if resp.Final != "" {
		lines = append(lines, resp.Final)
	}
	if !atQueryOnly(cmd) {
		// The engine owns echo, result format, CMEE, CSCS, CMGF: a
		// command that may have changed them is followed by setting them
		// again (a UCS2 character set would break every later dial).
		if rerr := m.RestoreSettings(ctx); rerr != nil {
			slog.Warn("modem settings after AT passthrough", "err", rerr)
		}
	}
	return lines, err
}
