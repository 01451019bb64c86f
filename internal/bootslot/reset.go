package bootslot

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"edgebox/boards"
	"edgebox/internal/paths"
	"edgebox/internal/update"
)

// factoryReset erases the settings, secrets and data under /perm, keeping
// the firmware and the update history.
func (s *Slot) factoryReset(why string) error {
	s.log.Warn("FACTORY RESET: erasing settings and secrets", "requested_by", why)
	err := update.EraseSettings(paths.DataDir(), "update")
	s.store.Add(update.Event{Time: time.Now(), Kind: update.EventReset, Slot: s.boot.Slot, Version: s.version, Reason: why})
	return err
}

// FactoryResetAtBoot honours edgebox.factory_reset=erase-TOKEN once per token.
func FactoryResetAtBoot(cmdline string, log *slog.Logger) {
	v := boards.CmdlineValue(cmdline, cmdFactoryReset)
	if v == "" {
		return
	}
	if !strings.HasPrefix(v, "erase") {
		log.Warn("ignoring "+cmdFactoryReset+": its value must start with \"erase\" to confirm", "value", v)
		return
	}
	marker := filepath.Join(paths.PermDir(), ".factory-reset-done")
	if done, _ := os.ReadFile(marker); strings.TrimSpace(string(done)) == v {
		return // this token was honoured on an earlier boot
	}
	log.Warn("FACTORY RESET requested on the kernel command line: erasing settings and secrets", "token", v)
	if err := update.EraseSettings(paths.DataDir(), "update"); err != nil {
		log.Error("factory reset", "err", err)
		return
	}
	os.WriteFile(marker, []byte(v+"\n"), 0o644)
}

// WatchFrontButton erases the settings and reboots when the board's front
// button (apu2+: gpio-keys-polled "front button", KEY_RESTART) is held for
// update.LongPress.
func (s *Slot) WatchFrontButton(sysRoot string) {
	devs, _ := filepath.Glob(filepath.Join(sysRoot, "class/input/input*"))
	for _, d := range devs {
		name, _ := os.ReadFile(filepath.Join(d, "name"))
		if !strings.Contains(strings.ToLower(string(name)), "gpio-keys") {
			continue
		}
		evs, _ := filepath.Glob(filepath.Join(d, "event*"))
		for _, ev := range evs {
			f, err := os.Open("/dev/input/" + filepath.Base(ev))
			if err != nil {
				continue
			}
			s.log.Info("front button: hold it 10 s to erase the settings (factory reset)", "device", f.Name())
			go func() {
				defer f.Close()
				if update.WaitLongPress(f, update.KeyRestart, update.LongPress, time.Now) {
					if s.factoryReset("front button held") == nil {
						s.reboot()
					}
				}
			}()
		}
	}
}
