package kmod

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Levels groups resolved module files (from Resolve) by dependency depth:
// level 0 needs nothing among them, level n only modules of lower levels.
// Modules of one level can be loaded at the same time.
func (d *Deps) Levels(files []string) [][]string {
	depth := map[string]int{}
	var level func(f string) int
	level = func(f string) int {
		if n, ok := depth[f]; ok {
			return n
		}
		depth[f] = 0 // Resolve refused cycles; this only stops a runaway
		n := 0
		for _, dep := range d.deps[f] {
			if l := level(dep) + 1; l > n {
				n = l
			}
		}
		depth[f] = n
		return n
	}
	var out [][]string
	for _, f := range files {
		n := level(f)
		for len(out) <= n {
			out = append(out, nil)
		}
		out[n] = append(out[n], f)
	}
	return out
}

// Loader loads modules from one modules directory, each at most once. It is
// safe for concurrent use: the boot's coldplug and the hotplug listener
// share one.
type Loader struct {
	Dir     string
	deps    *Deps
	aliases *Aliases

	mu    sync.Mutex
	files map[string]*loading // module file -> its (possibly running) load
	took  map[string]time.Duration
}

type loading struct {
	done chan struct{}
	err  error
}

// Open reads dir's modules.dep, modules.builtin and modules.alias. A
// missing modules.alias only means no module is matched to hardware.
func Open(dir string) (*Loader, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	d, err := ParseDeps(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	if b, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		d.ParseBuiltin(b)
		b.Close()
	}
	a := &Aliases{device: map[string]bool{}}
	if af, err := os.Open(filepath.Join(dir, "modules.alias")); err == nil {
		a, err = ParseAliases(af)
		af.Close()
		if err != nil {
			return nil, err
		}
	}
	return &Loader{Dir: dir, deps: d, aliases: a, files: map[string]*loading{}, took: map[string]time.Duration{}}, nil
}

// ForDevices returns the modules whose aliases match any of the modaliases.
func (l *Loader) ForDevices(modaliases []string) []string {
	set := map[string]bool{}
	for _, m := range modaliases {
		for _, mod := range l.aliases.Match(m) {
			set[mod] = true
		}
	}
	return sortedKeys(set)
}

// BootModules is what to load at boot: the modules matching the devices
// present, plus those of the board's list that no device asks for
// (filesystems, netfilter, ppp, tun). A driver on the board's list whose
// hardware is absent is not loaded; if its device shows up later, the
// hotplug listener loads it.
func (l *Loader) BootModules(modaliases, board []string) []string {
	set := map[string]bool{}
	for _, m := range l.ForDevices(modaliases) {
		set[m] = true
	}
	for _, m := range board {
		if !l.aliases.BindsDevices(m) {
			set[Name(m)] = true
		}
	}
	return sortedKeys(set)
}

// Load loads the named modules and their dependencies, one dependency
// level after the other, the modules of a level in parallel. It goes on
// after a failure (a broken module must not stop the boot) and returns how
// many modules it inserted and every error.
func (l *Loader) Load(names []string) (loaded int, errs []error) {
	files, missing, err := l.deps.Resolve(names)
	if err != nil {
		return 0, []error{err}
	}
	for _, m := range missing {
		errs = append(errs, fmt.Errorf("module %s: not in modules.dep", m))
	}
	var mu sync.Mutex
	for _, level := range l.deps.Levels(files) {
		var wg sync.WaitGroup
		for _, file := range level {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inserted, err := l.loadFile(file)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if inserted {
					loaded++
				}
			}()
		}
		wg.Wait()
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return loaded, errs
}

// Slowest returns the n modules whose insertion took longest so far, with
// their times ("e1000e 180ms"), for the boot log.
func (l *Loader) Slowest(n int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.took))
	for m := range l.took {
		names = append(names, m)
	}
	sort.Slice(names, func(i, j int) bool { return l.took[names[i]] > l.took[names[j]] })
	if len(names) > n {
		names = names[:n]
	}
	for i, m := range names {
		names[i] = fmt.Sprintf("%s %v", m, l.took[m].Round(time.Millisecond))
	}
	return names
}

// loadFile inserts one module unless it is in the kernel already or another
// goroutine is loading it (then it waits for that load and shares its error).
func (l *Loader) loadFile(file string) (inserted bool, err error) {
	l.mu.Lock()
	ld, busy := l.files[file]
	if !busy {
		ld = &loading{done: make(chan struct{})}
		l.files[file] = ld
	}
	l.mu.Unlock()
	if busy {
		<-ld.done
		return false, ld.err
	}
	defer close(ld.done)
	if Loaded(Name(file)) {
		return false, nil
	}
	start := time.Now()
	ld.err = Load(filepath.Join(l.Dir, file))
	l.mu.Lock()
	l.took[Name(file)] = time.Since(start)
	l.mu.Unlock()
	if ld.err != nil {
		// A later attempt (the device replugged) may try again.
		l.mu.Lock()
		delete(l.files, file)
		l.mu.Unlock()
		return false, ld.err
	}
	return true, nil
}
