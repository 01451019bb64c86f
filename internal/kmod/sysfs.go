package kmod

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Modaliases returns the modalias of every device under sysRoot/devices,
// sorted, each once: what the kernel would have sent as uevents for the
// devices that appeared before anyone listened ("coldplug", as udev's
// trigger and u-root's pkg/kmodule do). Symlinks are not followed, so each
// device is read once.
func Modaliases(sysRoot string) []string {
	set := map[string]bool{}
	root := filepath.Join(sysRoot, "devices")
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a device that went away while we walked
		}
		if d.IsDir() {
			// Attribute folders that never hold devices: skip their reads.
			switch d.Name() {
			case "power", "msi_irqs", "statistics", "queues", "holders", "slaves", "trace":
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "modalias" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if m := strings.TrimSpace(string(b)); m != "" {
			set[m] = true
		}
		return nil
	})
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
