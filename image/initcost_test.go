package image

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Package initialisers of the box's own packages allocate at most this
// much each, and together at most initBudgetAll. Every service runs the
// one multi-call binary (Commands) and so initialises every package of
// every command before its main: what web's package variables compile
// (regexps with counted repetitions, translation tables) the gateway and
// netctl pay too, three times per boot, seconds under QEMU's TCG. Compile
// or load such things at first use (internal/lazyregexp, sync.OnceValue).
const (
	initBudgetPackage = 24 << 10
	initBudgetAll     = 64 << 10
)

// TestOwnPackageInitsAreCheap builds a program that links what the
// multi-call binary's commands import, runs it with GODEBUG=inittrace=1
// and checks what each edgebox package's initialiser allocated (bytes
// allocated are the same run to run, unlike its time).
func TestOwnPackageInitsAreCheap(t *testing.T) {
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	for _, cmd := range Commands {
		list := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", "./"+cmd)
		list.Dir = repo
		out, err := list.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", cmd, err)
		}
		imports = append(imports, strings.Fields(string(out))...)
	}
	var src bytes.Buffer
	src.WriteString("package main\n\nimport (\n")
	seen := map[string]bool{}
	for _, imp := range imports {
		if !seen[imp] {
			seen[imp] = true
			src.WriteString("\t_ " + strconv.Quote(imp) + "\n")
		}
	}
	src.WriteString(")\n\nfunc main() {}\n")
	// The program lives only in an overlay: nothing is written into the tree.
	dir := t.TempDir()
	mainGo := filepath.Join(dir, "main.go")
	os.WriteFile(mainGo, src.Bytes(), 0o644)
	virtual := filepath.Join(repo, "internal", "initcost_overlay", "main.go")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{virtual: mainGo}})
	os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644)
	bin := filepath.Join(dir, "services")
	build := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, "./internal/initcost_overlay")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	costs := ownInitBytes(t, out)
	if len(costs) < 5 {
		t.Fatalf("only %d edgebox packages in the init trace: %s", len(costs), out)
	}
	var all int
	for pkg, n := range costs {
		all += n
		if n > initBudgetPackage {
			t.Errorf("%s allocates %d KB in its package initialisers (budget %d KB): every service pays it at start", pkg, n>>10, initBudgetPackage>>10)
		}
	}
	if all > initBudgetAll {
		t.Errorf("edgebox packages allocate %d KB in their initialisers together (budget %d KB)", all>>10, initBudgetAll>>10)
	}
	t.Logf("edgebox packages' initialisers: %d KB in %d packages", all>>10, len(costs))
}

// ownInitBytes reads GODEBUG=inittrace=1 lines ("init PKG @T ms, C ms
// clock, B bytes, A allocs") and returns bytes by edgebox package.
func ownInitBytes(t *testing.T, trace []byte) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(trace))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		if f[1] != "edgebox" && !strings.HasPrefix(f[1], "edgebox/") {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("init trace line %q: %v", sc.Text(), err)
		}
		out[f[1]] += n
	}
	return out
}
