package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// TestProductDoesNotLinkTestenv: only test files import this package
// (go list without -test sees no test files).
func TestProductDoesNotLinkTestenv(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}: {{join .Imports \" \"}}", "edgebox/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		pkg, imps, _ := strings.Cut(strings.TrimSpace(line), ":")
		for _, imp := range strings.Fields(imps) {
			if imp == "edgebox/internal/testenv" {
				t.Errorf("%s imports edgebox/internal/testenv outside its tests", pkg)
			}
		}
	}
}
