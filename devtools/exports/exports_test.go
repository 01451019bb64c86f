package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeTree writes files (path -> text) below a new temporary folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, text := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func unusedOf(t *testing.T, tr *tree, pkg string) []string {
	t.Helper()
	used := tr.reachable(pkg)
	var out []string
	for _, n := range tr.exported[pkg] {
		if !used[n] {
			out = append(out, n)
		}
	}
	return out
}

func TestUnusedExports(t *testing.T) {
	root := writeTree(t, map[string]string{
		"go.mod": "module ex\n\ngo 1.22\n",
		"lib/lib.go": `package lib

// Used is called from app; it returns Result, which app never names.
func Used() Result { return Result{} }

// Result's exported field shows Kind; its unexported field hides Secret.
type Result struct {
	Kind   Kind
	secret Secret
}

type Kind int
type Secret int

// Method is exported on a used type: its parameter type is API too.
func (Result) Method(Param) {}

type Param string

// OnlyInternal is used inside lib alone.
func OnlyInternal() { Used() }

// ByExternalTest is used by lib's external test package.
const ByExternalTest = 1

// ByOwnTest is used by lib's own (internal) test only.
var ByOwnTest = 2
`,
		"lib/lib_test.go":     "package lib\n\nimport \"testing\"\n\nfunc TestOwn(t *testing.T) { _ = ByOwnTest }\n",
		"lib/ext_test.go":     "package lib_test\n\nimport (\n\t\"testing\"\n\n\t\"ex/lib\"\n)\n\nfunc TestExt(t *testing.T) { _ = lib.ByExternalTest }\n",
		"app/main.go":         "package main\n\nimport l \"ex/lib\"\n\nfunc main() { l.Used() }\n",
		"lib/testdata/x.go":   "package x\n\nimport \"ex/lib\"\n\nvar _ = lib.OnlyInternal\n",
		".hidden/y.go":        "package y\n\nimport \"ex/lib\"\n\nvar _ = lib.ByOwnTest\n",
		"lib/sub/sub.go":      "package sub\n\n// Lonely has no user.\nfunc Lonely() {}\n",
		"lib/sub/sub_test.go": "package sub\n\nimport \"testing\"\n\nfunc TestLonely(t *testing.T) { Lonely() }\n",
	})
	tr, err := scan(root, "ex")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := unusedOf(t, tr, "ex/lib"), []string{"ByOwnTest", "OnlyInternal", "Secret"}; !slices.Equal(got, want) {
		t.Errorf("ex/lib unused = %v, want %v", got, want)
	}
	if got, want := unusedOf(t, tr, "ex/lib/sub"), []string{"Lonely"}; !slices.Equal(got, want) {
		t.Errorf("ex/lib/sub unused = %v, want %v", got, want)
	}
	if got, want := len(tr.exported["ex/lib"]), 8; got != want {
		t.Errorf("ex/lib exports %d names (%v), want %d", got, tr.exported["ex/lib"], want)
	}
}
