package kmod

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"
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

	// The kernel, behind two functions so the scheduling is tested
	// without root: Load and Loaded.
	insert   func(path string) error
	isLoaded func(name string) bool
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
	if sf, err := os.Open(filepath.Join(dir, "modules.softdep")); err == nil {
		err = d.ParseSoftdep(sf, a.Match)
		sf.Close()
		if err != nil {
			return nil, err
		}
	}
	return &Loader{Dir: dir, deps: d, aliases: a, files: map[string]*loading{}, took: map[string]time.Duration{},
		insert: load, isLoaded: loaded}, nil
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
	return l.Start(names).Wait()
}

// Batch is a Load running in the background.
type Batch struct {
	done   chan struct{}
	loaded int
	errs   []error
}

// Wait waits for the batch and returns what Load returns.
func (b *Batch) Wait() (loaded int, errs []error) {
	<-b.done
	return b.loaded, b.errs
}

// Start is Load in the background. The modules are claimed before it
// returns, so WaitModule on any of them waits for this batch.
func (l *Loader) Start(names []string) *Batch { return l.start(names, l.insert) }

// StartIdle is Start at the lowest CPU priority: each module is inserted
// from a thread of its own at nice 19, so its init and the driver's probe,
// which the kernel runs in that thread, take the CPU only when the rest of
// the boot leaves it. Work the kernel hands to its own workers (USB
// enumeration, asynchronous probes) keeps its priority.
func (l *Loader) StartIdle(names []string) *Batch { return l.start(names, idle(l.insert)) }

// idle wraps insert to run at nice 19 in a thread that ends with it.
func idle(insert func(string) error) func(string) error {
	return func(path string) error {
		done := make(chan error, 1)
		go func() {
			// Never unlocked: the thread exits with this goroutine, so no
			// other goroutine ever runs at its priority.
			runtime.LockOSThread()
			unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
			done <- insert(path)
		}()
		return <-done
	}
}

func (l *Loader) start(names []string, insert func(string) error) *Batch {
	b := &Batch{done: make(chan struct{})}
	files, missing, err := l.deps.Resolve(names)
	if err != nil {
		b.errs = []error{err}
		close(b.done)
		return b
	}
	for _, m := range missing {
		b.errs = append(b.errs, fmt.Errorf("module %s: not in modules.dep", m))
	}
	mine := map[string]*loading{}
	l.mu.Lock()
	for _, f := range files {
		if _, busy := l.files[f]; !busy {
			mine[f] = &loading{done: make(chan struct{})}
			l.files[f] = mine[f]
		}
	}
	l.mu.Unlock()
	go func() {
		defer close(b.done)
		var mu sync.Mutex
		for _, level := range l.deps.Levels(files) {
			var wg sync.WaitGroup
			for _, file := range level {
				wg.Go(func() {
					inserted, err := l.loadFile(file, mine[file], insert)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						b.errs = append(b.errs, err)
					} else if inserted {
						b.loaded++
					}
				})
			}
			wg.Wait()
		}
		sort.Slice(b.errs, func(i, j int) bool { return b.errs[i].Error() < b.errs[j].Error() })
	}()
	return b
}

// WaitModule waits until module name is loaded, if a batch is loading it,
// and returns that load's error. A module no batch claimed returns at once.
func (l *Loader) WaitModule(name string) error {
	file, ok := l.deps.Path(name)
	if !ok {
		return nil
	}
	l.mu.Lock()
	ld := l.files[file]
	l.mu.Unlock()
	if ld == nil {
		return nil
	}
	<-ld.done
	return ld.err
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

// loadFile inserts one module the caller claimed (ld), or, when another
// batch claimed it (ld is nil), waits for that load and shares its error.
func (l *Loader) loadFile(file string, ld *loading, insert func(string) error) (inserted bool, err error) {
	if ld == nil {
		l.mu.Lock()
		other := l.files[file]
		l.mu.Unlock()
		if other == nil { // it failed and was released: try again
			return l.loadFile(file, l.claim(file), insert)
		}
		<-other.done
		return false, other.err
	}
	defer close(ld.done)
	if l.isLoaded(Name(file)) {
		return false, nil
	}
	start := time.Now()
	ld.err = insert(filepath.Join(l.Dir, file))
	l.mu.Lock()
	l.took[Name(file)] = time.Since(start)
	if ld.err != nil {
		// A later attempt (the device replugged) may try again.
		delete(l.files, file)
	}
	l.mu.Unlock()
	return ld.err == nil, ld.err
}

// claim registers a load of file, or returns nil if one is registered.
func (l *Loader) claim(file string) *loading {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, busy := l.files[file]; busy {
		return nil
	}
	ld := &loading{done: make(chan struct{})}
	l.files[file] = ld
	return ld
}
