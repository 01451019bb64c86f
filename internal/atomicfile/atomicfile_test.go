package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileKeepPrevious(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.json")
	if err := WriteFileKeepPrevious(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileKeepPrevious(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("current = %q", b)
	}
	if b, _ := os.ReadFile(p + ".prev"); string(b) != "one" {
		t.Fatalf("previous = %q", b)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such"), nil, 0o644); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
