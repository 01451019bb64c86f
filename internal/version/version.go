// Package version tells which firmware build is running. The image builder
// writes /etc/edgebox/version into the initramfs; development builds say "dev".
package version

import (
	"os"
	"strings"
)

// File is where the image builder records the version.
const File = "/etc/edgebox/version"

// String returns the firmware version.
func String() string {
	b, err := os.ReadFile(File)
	if err != nil {
		return "dev"
	}
	if v := strings.TrimSpace(string(b)); v != "" {
		return v
	}
	return "dev"
}
