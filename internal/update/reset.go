package update

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"edgebox/internal/atomicfile"
)

// EraseSettings removes everything in dataDir (the config, its previous
// version, secrets, VPN profiles, stored messages) except the entries named
// in keep, for a factory reset. The firmware in the boot slots is not
// touched.
func EraseSettings(dataDir string, keep ...string) error {
	entries, err := os.ReadDir(dataDir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("factory reset: %w", err)
	}
	var errs []error
	for _, e := range entries {
		skip := false
		for _, k := range keep {
			skip = skip || e.Name() == k
		}
		if !skip {
			if err := os.RemoveAll(filepath.Join(dataDir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("factory reset: %v", errs)
	}
	return atomicfile.SyncDir(dataDir)
}

// KeyRestart is the key code the apu2+ front button reports (the kernel's
// pcengines-apuv2 driver registers it as gpio-keys-polled, KEY_RESTART).
const KeyRestart = 0x198

// LongPress is how long the front button must be held for a factory reset.
const LongPress = 10 * time.Second

// WaitLongPress reads input events (struct input_event, 64-bit) from r and
// returns true once key code is released after being held at least hold,
// or is still held when a later event (autorepeat, sync) arrives after
// hold. It returns false when r ends.
func WaitLongPress(r io.Reader, code uint16, hold time.Duration, now func() time.Time) bool {
	var ev [24]byte
	var down time.Time
	for {
		if _, err := io.ReadFull(r, ev[:]); err != nil {
			return false
		}
		typ := binary.LittleEndian.Uint16(ev[16:])
		c := binary.LittleEndian.Uint16(ev[18:])
		value := int32(binary.LittleEndian.Uint32(ev[20:]))
		t := now()
		if typ == 1 && c == code { // EV_KEY
			switch value {
			case 1:
				down = t
				continue
			case 0:
				if !down.IsZero() && t.Sub(down) >= hold {
					return true
				}
				down = time.Time{}
				continue
			}
		}
		if !down.IsZero() && t.Sub(down) >= hold {
			return true
		}
	}
}
