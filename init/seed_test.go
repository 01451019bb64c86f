package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

func TestRandomSeedIsCreditedOnceAndReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "random-seed")
	old := bytes.Repeat([]byte{7}, seedSize)
	os.WriteFile(path, old, 0o600)
	var credited [][]byte
	randomSeed(path, func(b []byte) error { credited = append(credited, append([]byte{}, b...)); return nil }, slog.Default())
	if len(credited) != 1 || !bytes.Equal(credited[0], old) {
		t.Fatalf("credited %x, want the saved seed once", credited)
	}
	now, err := os.ReadFile(path)
	if err != nil || len(now) != seedSize || bytes.Equal(now, old) {
		t.Fatalf("seed after boot: %x %v; it must be replaced before anything else runs", now, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("seed mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestRandomSeedFirstBootSavesOne(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{"absent": nil, "torn": []byte("short")} {
		path := filepath.Join(dir, name)
		if content != nil {
			os.WriteFile(path, content, 0o600)
		}
		randomSeed(path, func(b []byte) error { t.Errorf("%s: credited %q", name, b); return nil }, slog.Default())
		testenv.WaitFor(t, 30*time.Second, name+": a seed saved", testenv.Cond(func() bool {
			b, err := os.ReadFile(path)
			return err == nil && len(b) == seedSize
		}))
	}
}
