// Package kmod loads kernel modules the way udev and modprobe would, for a
// PID 1 without either: it resolves modules and their dependencies from
// depmod's modules.dep, matches the modalias of each device in sysfs (and of
// each device hot-plugged later, from the kernel's uevents) against
// modules.alias, and loads what matches with finit_module(2), one
// dependency level at a time and the modules of a level in parallel. The
// image builder uses the same resolution to pick the modules it ships and
// writes modules.dep and modules.alias for exactly those, so what init
// loads is exactly what is there.
//
// Why not u-root's pkg/kmodule (issue 18): it loads one named module and
// its dependencies one after another and re-reads modules.dep on every
// call; it has no modalias matching and no hotplug, and it does not expose
// the dependency graph, which the image builder needs to ship a subset and
// init needs to load by levels. Those are the parts edgebox needs, so
// kmodule would only replace the finit_module call (a few lines here) and
// add a dependency. internal/kmod stays, and stays small.
package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Deps maps a module's name to its file (relative to the modules directory)
// and the files of the modules it needs, as depmod wrote them.
type Deps struct {
	path map[string]string   // name -> relative path
	deps map[string][]string // relative path -> needed relative paths
	// Builtin names modules compiled into the kernel: nothing to load.
	Builtin map[string]bool
}

// Name turns a module file or a user-written name into the kernel's name:
// basename, no .ko/.ko.xz/.ko.zst, dashes as underscores.
func Name(s string) string {
	s = filepath.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// ParseDeps reads modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko").
func ParseDeps(r io.Reader) (*Deps, error) {
	d := &Deps{path: map[string]string{}, deps: map[string][]string{}, Builtin: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mod, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(mod) == "" {
			return nil, fmt.Errorf("modules.dep line %d: no \"module:\" in %q", n, line)
		}
		mod = strings.TrimSpace(mod)
		d.path[Name(mod)] = mod
		d.deps[mod] = strings.Fields(rest)
	}
	return d, sc.Err()
}

// ParseBuiltin reads modules.builtin (one kernel/x/y.ko per line).
func (d *Deps) ParseBuiltin(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			d.Builtin[Name(l)] = true
		}
	}
	return sc.Err()
}

// ParseSoftdep reads modules.softdep and makes each "pre:" module a
// dependency of the module that asks for it: libcrc32c and ext4 find the
// crc32c algorithm at load time, and fail if crc32c_generic is not in yet,
// which only modprobe's order guaranteed. A pre name may be an alias
// ("crypto-crc32c"); lookup turns it into module names. Names that are not
// shipped, and edges that would make a cycle, are left out.
func (d *Deps) ParseSoftdep(r io.Reader, lookup func(string) []string) error {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "softdep" {
			continue
		}
		file, ok := d.path[Name(f[1])]
		if !ok {
			continue
		}
		for _, pre := range f[2:] {
			if pre == "post:" {
				break
			}
			if pre == "pre:" {
				continue
			}
			mods := []string{Name(pre)}
			if _, known := d.path[Name(pre)]; !known {
				mods = lookup(pre)
			}
			for _, m := range mods {
				dep, ok := d.path[Name(m)]
				if ok && dep != file && !d.needs(dep, file) && !slices.Contains(d.deps[file], dep) {
					d.deps[file] = append(d.deps[file], dep)
				}
			}
		}
	}
	return sc.Err()
}

// needs reports whether file depends, directly or not, on other.
func (d *Deps) needs(file, other string) bool {
	seen := map[string]bool{}
	var walk func(f string) bool
	walk = func(f string) bool {
		if f == other {
			return true
		}
		if seen[f] {
			return false
		}
		seen[f] = true
		for _, dep := range d.deps[f] {
			if walk(dep) {
				return true
			}
		}
		return false
	}
	return walk(file)
}

// Path returns the file of module name.
func (d *Deps) Path(name string) (string, bool) {
	p, ok := d.path[Name(name)]
	return p, ok
}

// Resolve returns the files to load for the named modules, every dependency
// before the modules that need it, each once. Built-in modules are skipped;
// unknown names are returned in missing so the caller can say so.
func (d *Deps) Resolve(names []string) (files []string, missing []string, err error) {
	seen := map[string]int{} // 1 visiting, 2 done
	var visit func(file string, chain []string) error
	visit = func(file string, chain []string) error {
		switch seen[file] {
		case 1:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, file), " -> "))
		case 2:
			return nil
		}
		seen[file] = 1
		for _, dep := range d.deps[file] {
			if _, known := d.deps[dep]; !known {
				return fmt.Errorf("modules.dep: %s needs %s, which has no entry", file, dep)
			}
			if err := visit(dep, append(chain, file)); err != nil {
				return err
			}
		}
		seen[file] = 2
		files = append(files, file)
		return nil
	}
	for _, n := range names {
		p, ok := d.path[Name(n)]
		if !ok {
			if !d.Builtin[Name(n)] {
				missing = append(missing, n)
			}
			continue
		}
		if err := visit(p, nil); err != nil {
			return nil, nil, err
		}
	}
	return files, missing, nil
}

// loaded reports whether module name is already in the kernel.
func loaded(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/module", Name(name)))
	return err == nil
}

// load inserts the module file at path. A module that is already loaded is
// not an error. Compressed modules are handed to the kernel to decompress.
func load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if strings.HasSuffix(path, ".xz") || strings.HasSuffix(path, ".zst") || strings.HasSuffix(path, ".gz") {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	err = unix.FinitModule(int(f.Fd()), "", flags)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", filepath.Base(path), err)
	}
	return nil
}
