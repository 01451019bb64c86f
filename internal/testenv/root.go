package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireRoot skips t unless it runs as root (namespaces, veths and
// nftables need it). It also fails t if one of tools is missing, because a
// root run is expected to have scripts/deps.sh's packages installed.
func RequireRoot(t testing.TB, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	RequireTools(t, tools...)
}

// RequireTools fails t if one of tools (a name on PATH or an absolute
// path) is not installed, saying how to install it.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, bin := range tools {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (scripts/deps.sh installs it): %v", bin, err)
		}
	}
}
