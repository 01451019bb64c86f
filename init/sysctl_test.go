package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestApplySysctls(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "net/core"), 0o755)
	errs := applySysctls(root, map[string]string{"net/core/rmem_max": "8388608", "net/nosuch/x": "1"})
	if len(errs) != 1 {
		t.Fatalf("errors %v", errs)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "net/core/rmem_max")); string(b) != "8388608\n" {
		t.Fatalf("value %q", b)
	}
}
