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

// TestHugePagesOnlyWhereAsked: the box's settings turn transparent huge
// pages from Debian's "always" to "madvise" (each idle Go service's heap
// was kept resident in whole 2 MB pages).
func TestHugePagesOnlyWhereAsked(t *testing.T) {
	root := t.TempDir()
	thp := filepath.Join(root, "kernel/mm/transparent_hugepage/enabled")
	os.MkdirAll(filepath.Dir(thp), 0o755)
	os.WriteFile(thp, []byte("[always] madvise never\n"), 0o644)
	if errs := applySysctls(root, boxKernelMM); len(errs) != 0 {
		t.Fatal(errs)
	}
	if b, _ := os.ReadFile(thp); string(b) != "madvise\n" {
		t.Fatalf("transparent_hugepage/enabled: %q, want madvise", b)
	}
}
