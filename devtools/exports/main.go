// Command exports counts, for packages of this module, the exported
// package-level names (funcs, types, vars, consts) that no other package
// uses: candidates to unexport (issue 18). Methods and struct fields are
// not counted: they may satisfy an interface or carry JSON.
//
// A name is used when another package's file, tests included (an
// external _test package in the same folder counts as another package),
// refers to it as pkg.Name, or when it shows in the API of a used name
// (a type in the signature of a used func, or of an exported method or
// field of a used type): unexporting it would hand callers a value of a
// type they cannot name. Dot-imports are reported, not resolved.
//
//	go run ./devtools/exports [-v] [./modem ./netctl ./internal/...]
//
// Without arguments it reports modem, netctl, gateway and internal/*.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

func main() {
	verbose := flag.Bool("v", false, "list the unused names")
	flag.Parse()
	root, module, err := findModule()
	if err != nil {
		fmt.Fprintln(os.Stderr, "exports:", err)
		os.Exit(1)
	}
	dirs := flag.Args()
	if len(dirs) == 0 {
		dirs = []string{"./modem", "./netctl", "./gateway", "./internal/..."}
	}
	t, err := scan(root, module)
	if err != nil {
		fmt.Fprintln(os.Stderr, "exports:", err)
		os.Exit(1)
	}
	for _, d := range expand(root, dirs) {
		path := module
		if d != "." {
			path += "/" + filepath.ToSlash(d)
		}
		names := t.exported[path]
		if len(names) == 0 {
			continue
		}
		used := t.reachable(path)
		var unused []string
		for _, n := range names {
			if !used[n] {
				unused = append(unused, n)
			}
		}
		fmt.Printf("%-28s exported %4d  used outside %4d  unused %4d\n", path, len(names), len(names)-len(unused), len(unused))
		if *verbose {
			for _, n := range unused {
				fmt.Printf("\t%s\n", n)
			}
		}
	}
	for _, w := range t.warnings {
		fmt.Fprintln(os.Stderr, "exports:", w)
	}
}

// findModule returns the folder holding go.mod and the module path.
func findModule() (root, module string, err error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", "", err
	}
	for {
		f, err := os.Open(filepath.Join(dir, "go.mod"))
		if err == nil {
			defer f.Close()
			s := bufio.NewScanner(f)
			for s.Scan() {
				if m, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
					return dir, strings.TrimSpace(m), nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod names no module", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("no go.mod above the current folder; run it inside the module")
		}
		dir = parent
	}
}

// expand turns ./a/... into every folder below a (relative to root).
func expand(root string, args []string) []string {
	var out []string
	for _, a := range args {
		base, all := strings.CutSuffix(a, "/...")
		base = filepath.Clean(base)
		if !all {
			out = append(out, base)
			continue
		}
		filepath.WalkDir(filepath.Join(root, base), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if skipDir(d.Name()) && p != filepath.Join(root, base) {
					return filepath.SkipDir
				}
				rel, _ := filepath.Rel(root, p)
				out = append(out, rel)
			}
			return nil
		})
	}
	return out
}

func skipDir(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules"
}

type tree struct {
	exported map[string][]string              // import path -> sorted exported names
	decls    map[string]map[string][]ast.Node // import path -> name -> its declaration, and methods of a type
	used     map[string]map[string]bool       // import path -> names other packages use
	warnings []string
}

// scan reads every Go file below root once.
func scan(root, module string) (*tree, error) {
	t := &tree{exported: map[string][]string{}, used: map[string]map[string]bool{}, decls: map[string]map[string][]ast.Node{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.warnings = append(t.warnings, err.Error())
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		self := module
		if rel != "." {
			self += "/" + filepath.ToSlash(rel)
		}
		if strings.HasSuffix(f.Name.Name, "_test") {
			self += "_test" // an external test package uses its package from outside
		}
		if !strings.HasSuffix(p, "_test.go") {
			t.declare(self, f)
		}
		t.uses(p, self, module, f)
		return nil
	})
	for k, v := range t.exported {
		slices.Sort(v)
		t.exported[k] = slices.Compact(v)
	}
	return t, err
}

// declare notes f's exported package-level names and their declarations.
func (t *tree) declare(pkg string, f *ast.File) {
	if t.decls[pkg] == nil {
		t.decls[pkg] = map[string][]ast.Node{}
	}
	add := func(name string, n ast.Node) {
		t.decls[pkg][name] = append(t.decls[pkg][name], n)
		if ast.IsExported(name) {
			t.exported[pkg] = append(t.exported[pkg], name)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				add(d.Name.Name, d.Type)
			} else if d.Name.IsExported() {
				// An exported method is part of its type's API.
				recv := d.Recv.List[0].Type
				for {
					switch r := recv.(type) {
					case *ast.StarExpr:
						recv = r.X
						continue
					case *ast.IndexExpr:
						recv = r.X
						continue
					case *ast.IndexListExpr:
						recv = r.X
						continue
					}
					break
				}
				if id, ok := recv.(*ast.Ident); ok {
					t.decls[pkg][id.Name] = append(t.decls[pkg][id.Name], d.Type)
				}
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					add(s.Name.Name, s.Type)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if s.Type != nil {
							add(n.Name, s.Type)
						} else {
							add(n.Name, &ast.BadExpr{})
						}
					}
				}
			}
		}
	}
}

// reachable is the set of pkg's names that other packages use, and the
// names that show in their API (signatures, exported fields and methods).
func (t *tree) reachable(pkg string) map[string]bool {
	seen := map[string]bool{}
	var work []string
	for n := range t.used[pkg] {
		work = append(work, n)
	}
	for len(work) > 0 {
		n := work[len(work)-1]
		work = work[:len(work)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		var visit func(x ast.Node) bool
		visit = func(x ast.Node) bool {
			switch x := x.(type) {
			case *ast.StructType:
				// Unexported fields are not API; embedded ones are.
				for _, f := range x.Fields.List {
					if len(f.Names) == 0 || slices.ContainsFunc(f.Names, (*ast.Ident).IsExported) {
						ast.Inspect(f.Type, visit)
					}
				}
				return false
			case *ast.SelectorExpr:
				return false // another package's name
			case *ast.Ident:
				if _, ok := t.decls[pkg][x.Name]; ok && !seen[x.Name] {
					work = append(work, x.Name)
				}
			}
			return true
		}
		for _, d := range t.decls[pkg][n] {
			ast.Inspect(d, visit)
		}
	}
	return seen
}

// uses notes every pkg.Name in f that names another package of the module.
func (t *tree) uses(file, self, module string, f *ast.File) {
	local := map[string]string{} // name in this file -> import path
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		if path != module && !strings.HasPrefix(path, module+"/") || path == self {
			continue
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == "." {
			t.warnings = append(t.warnings, fmt.Sprintf("%s dot-imports %s: its uses are not counted", file, path))
			continue
		}
		local[name] = path
	}
	if len(local) == 0 {
		return
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok {
			if path, ok := local[id.Name]; ok {
				if t.used[path] == nil {
					t.used[path] = map[string]bool{}
				}
				t.used[path][sel.Sel.Name] = true
			}
		}
		return true
	})
}
