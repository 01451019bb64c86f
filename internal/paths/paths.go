// Package paths names the places on the box where services meet: the run
// directory with the service sockets and the persistent /perm partition.
// Tests point them elsewhere with EDGEBOX_RUN_DIR and EDGEBOX_PERM_DIR.
package paths

import (
	"os"
	"path/filepath"
)

// RunDir holds the unix sockets of the box services (tmpfs, lost on reboot).
func RunDir() string { return env("EDGEBOX_RUN_DIR", "/run/edgebox") }

// PermDir is the mount point of the persistent ext4 partition.
func PermDir() string { return env("EDGEBOX_PERM_DIR", "/perm") }

// DataDir holds edgebox's own persistent files under /perm.
func DataDir() string { return filepath.Join(PermDir(), "edgebox") }

// SecretsDir holds keys and passwords; files there are mode 0600.
func SecretsDir() string { return filepath.Join(DataDir(), "secrets") }

// ConfigFile is the one versioned configuration file of the box.
func ConfigFile() string { return filepath.Join(DataDir(), "config.json") }

// Socket is the unix socket where service name serves its JSON API.
func Socket(name string) string { return filepath.Join(RunDir(), name+".sock") }

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
