// Package version tells which firmware build is running. The image builder
// writes /etc/edgebox/version into the initramfs; development builds say "dev".
package version

import (
	"os"
	"strings"
	"time"
)

// file is where the image builder records the version.
const file = "/etc/edgebox/version"

// builtFile is where the image builder records when it built the image
// (RFC 3339, UTC).
const builtFile = "/etc/edgebox/built"

// String returns the firmware version.
func String() string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "dev"
	}
	if v := strings.TrimSpace(string(b)); v != "" {
		return v
	}
	return "dev"
}

// Built returns when the running image was built; zero for development
// builds or an image that does not say.
func Built() time.Time {
	b, err := os.ReadFile(builtFile)
	if err != nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	if err != nil {
		return time.Time{}
	}
	return t
}
