// Package supervise is PID 1's service supervisor: it starts the box
// services in dependency order, restarts them with backoff, keeps their
// last output lines and stops them in reverse order.
package supervise

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"edgebox/internal/sysapi"
)

// RestartPolicy says what to do when a service exits.
type RestartPolicy int

const (
	RestartAlways    RestartPolicy = iota // restart whatever the exit status
	RestartOnFailure                      // restart unless it exited 0
	RestartNever
)

// Service is one line of the service table.
type Service struct {
	Name string
	Path string
	Args []string
	Env  []string // added to init's environment
	Deps []string // started only after these are up (or DepWait passed)
	// ReadyPath, when set, is a file (the service's API socket) whose
	// appearance means the service is up; until then it is "starting".
	ReadyPath   string
	Restart     RestartPolicy
	StopTimeout time.Duration // SIGTERM to SIGKILL; 0 means Options.StopTimeout
}

// LineSink receives every line a service prints (init's remote syslog).
type LineSink interface {
	Line(service, text string)
}

// Options tune the supervisor; tests shorten the times.
type Options struct {
	BackoffBase    time.Duration // first restart delay, doubled per quick exit
	BackoffMax     time.Duration
	StableAfter    time.Duration // a run this long resets the backoff
	CrashLoopCount int           // this many quick exits in a row: failed
	FailedRetry    time.Duration // how often a failed service is retried
	DepWait        time.Duration // start anyway when a dependency is not up by then
	StopTimeout    time.Duration
	LogLines       int
	// ReapAll makes the supervisor wait for any child, as PID 1 must to lay
	// orphans to rest. Off (tests), it waits only for its own services so
	// that other children of the process keep their exit status.
	ReapAll bool
	Console io.Writer // a copy of every service line, prefixed; may be nil
	Remote  LineSink  // forwards every service line (remote syslog); may be nil
	Logger  *slog.Logger
	// OnUp, when set, is told each time a service comes up (its ready
	// path appeared, or it started if it has none); the boot's phase log.
	OnUp func(name string)
}

// DefaultOptions are the production settings.
func DefaultOptions() Options {
	return Options{
		BackoffBase: time.Second, BackoffMax: 30 * time.Second, StableAfter: time.Minute,
		CrashLoopCount: 5, FailedRetry: 5 * time.Minute, DepWait: 15 * time.Second,
		StopTimeout: 5 * time.Second, LogLines: 1000, Logger: slog.Default(),
	}
}

// proc is the supervisor's record of one service; only the loop goroutine
// touches it.
type proc struct {
	svc              Service
	state            string
	pid              int
	restarts         int
	quick            int // consecutive exits before StableAfter
	since            time.Time
	lastExit         string
	lastAt           time.Time
	runSeq           uint64 // the log's last sequence number before this run's output
	lastError        string // the error lines of the run that ended unexpectedly (kept over the next run)
	failedRun        bool   // the run after runSeq ended unexpectedly; its lines not yet read
	nextStart        time.Time
	wantStop         bool // stopped on purpose: do not restart
	restartAfterStop bool
	timer            *time.Timer
	killTimer        *time.Timer
	logs             *logRing
	stopped          []chan struct{} // closed when the process is gone
	depSince         time.Time
}

// Supervisor starts services in dependency order, restarts them with
// backoff, and stops them in reverse order. All state is owned by one
// goroutine (run); everything else sends it functions through ops.
type Supervisor struct {
	opts  Options
	order []string // dependency order
	procs map[string]*proc
	ops   chan func()
	// unknown collects exits of processes the loop has not registered yet
	// (a child can die before StartProcess returns to us) and of orphans.
	unknown map[int]syscall.WaitStatus
	done    chan struct{}
	wg      sync.WaitGroup // output readers
}

// NewSupervisor checks the table (unique names, known dependencies, no
// cycles) and returns a supervisor ready to Run.
func NewSupervisor(services []Service, opts Options) (*Supervisor, error) {
	def := DefaultOptions()
	if opts.Logger == nil {
		opts.Logger = def.Logger
	}
	if opts.LogLines == 0 {
		opts.LogLines = def.LogLines
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = def.StopTimeout
	}
	s := &Supervisor{opts: opts, procs: map[string]*proc{}, ops: make(chan func(), 64),
		unknown: map[int]syscall.WaitStatus{}, done: make(chan struct{})}
	for _, svc := range services {
		if svc.Name == "" || strings.ContainsAny(svc.Name, "/ ") {
			return nil, fmt.Errorf("service name %q is not valid", svc.Name)
		}
		if _, dup := s.procs[svc.Name]; dup {
			return nil, fmt.Errorf("service %s declared twice", svc.Name)
		}
		if svc.StopTimeout == 0 {
			svc.StopTimeout = opts.StopTimeout
		}
		s.procs[svc.Name] = &proc{svc: svc, state: sysapi.StateWaiting, logs: newLogRing(opts.LogLines)}
	}
	order, err := dependencyOrder(services)
	if err != nil {
		return nil, err
	}
	s.order = order
	return s, nil
}

// dependencyOrder sorts services so each comes after its dependencies,
// keeping the table's order otherwise.
func dependencyOrder(services []Service) ([]string, error) {
	byName := map[string]Service{}
	for _, s := range services {
		byName[s.Name] = s
	}
	var order []string
	mark := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch mark[name] {
		case 1:
			return fmt.Errorf("services depend on each other in a cycle: %s", strings.Join(append(path, name), " -> "))
		case 2:
			return nil
		}
		mark[name] = 1
		for _, d := range byName[name].Deps {
			if _, ok := byName[d]; !ok {
				return fmt.Errorf("service %s depends on unknown service %s", name, d)
			}
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		mark[name] = 2
		order = append(order, name)
		return nil
	}
	for _, s := range services {
		if err := visit(s.Name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Run starts the services and owns their state until ctx ends; then it
// returns without stopping them (Shutdown does that, in order).
func (s *Supervisor) Run(ctx context.Context) {
	defer close(s.done)
	sigchld := make(chan os.Signal, 8)
	signal.Notify(sigchld, syscall.SIGCHLD)
	defer signal.Stop(sigchld)
	now := time.Now()
	for _, name := range s.order {
		s.procs[name].depSince = now
	}
	s.startReady()
	poll := time.NewTicker(200 * time.Millisecond) // SIGCHLDs coalesce; never miss a reap
	defer poll.Stop()
	// While a service is starting, its ready path is looked for often: each
	// service that waits on another (and the boot's /healthz) would
	// otherwise lose up to a whole poll per step. Idle, only poll ticks.
	var fast *time.Ticker
	var fastC <-chan time.Time
	defer func() {
		if fast != nil {
			fast.Stop()
		}
	}()
	for {
		if starting := s.anyStarting(); starting && fast == nil {
			fast = time.NewTicker(readyPoll)
			fastC = fast.C
		} else if !starting && fast != nil {
			fast.Stop()
			fast, fastC = nil, nil
		}
		select {
		case <-ctx.Done():
			return
		case f := <-s.ops:
			f()
		case <-sigchld:
			s.reap()
		case <-fastC:
			s.checkReady()
			s.startReady()
		case <-poll.C:
			s.reap()
			s.checkReady()
			s.startReady()
		}
	}
}

// readyPoll is how often a starting service's ready path is looked for.
const readyPoll = 20 * time.Millisecond

func (s *Supervisor) anyStarting() bool {
	for _, p := range s.procs {
		if p.state == sysapi.StateStarting && p.pid != 0 {
			return true
		}
	}
	return false
}

// post hands f to the loop goroutine without waiting (timers use it).
func (s *Supervisor) post(f func()) {
	select {
	case s.ops <- f:
	case <-s.done:
	}
}

// do runs f on the loop goroutine and waits for it.
func (s *Supervisor) do(f func()) error {
	ran := make(chan struct{})
	select {
	case s.ops <- func() { f(); close(ran) }:
	case <-s.done:
		return errors.New("supervisor is not running")
	}
	select {
	case <-ran:
		return nil
	case <-s.done:
		return errors.New("supervisor is not running")
	}
}

// Heartbeat reports whether the loop ran a no-op within 5 s: the hardware
// watchdog is petted only while it does.
func (s *Supervisor) Heartbeat() bool {
	done := make(chan struct{})
	go func() { s.do(func() {}); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// Hang blocks the loop for good: the test hook (edgebox.debug.hang) that
// proves the watchdog resets a box whose init is stuck.
func (s *Supervisor) Hang() { s.post(func() { select {} }) }

// reap collects every exited child: ours get their exit handled, orphans
// that were re-parented to PID 1 are just laid to rest.
func (s *Supervisor) reap() {
	if !s.opts.ReapAll {
		for _, p := range s.procs {
			if p.pid == 0 {
				continue
			}
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil); pid == p.pid && err == nil {
				s.handleExit(p, ws)
			}
		}
		return
	}
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		s.exited(pid, ws)
	}
}

func (s *Supervisor) exited(pid int, ws syscall.WaitStatus) {
	for _, p := range s.procs {
		if p.pid == pid {
			s.handleExit(p, ws)
			return
		}
	}
	s.unknown[pid] = ws
	if len(s.unknown) > 256 { // orphans: nobody will claim them
		clear(s.unknown)
	}
}

func describeExit(ws syscall.WaitStatus) string {
	switch {
	case ws.Signaled():
		return "signal: " + ws.Signal().String()
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

func (s *Supervisor) handleExit(p *proc, ws syscall.WaitStatus) {
	ran := time.Since(p.since)
	p.pid = 0
	p.lastExit = describeExit(ws)
	p.lastAt = time.Now()
	if p.killTimer != nil {
		p.killTimer.Stop()
		p.killTimer = nil
	}
	for _, c := range p.stopped {
		close(c)
	}
	p.stopped = nil
	log := s.opts.Logger.With("service", p.svc.Name)
	p.failedRun = !p.wantStop && !(ws.Exited() && ws.ExitStatus() == 0)
	if p.wantStop {
		p.state = sysapi.StateStopped
		log.Info("service stopped", "exit", p.lastExit)
		if p.restartAfterStop {
			p.wantStop, p.restartAfterStop = false, false
			p.quick = 0
			s.start(p)
		}
		return
	}
	if p.svc.Restart == RestartNever || p.svc.Restart == RestartOnFailure && ws.Exited() && ws.ExitStatus() == 0 {
		p.state = sysapi.StateStopped
		log.Info("service exited", "exit", p.lastExit, "ran", ran.Round(time.Millisecond))
		return
	}
	if ran >= s.opts.StableAfter {
		p.quick = 0
	}
	p.quick++
	var delay time.Duration
	if s.opts.CrashLoopCount > 0 && p.quick >= s.opts.CrashLoopCount {
		p.state = sysapi.StateFailed
		delay = s.opts.FailedRetry
		log.Error("service is crash-looping; retrying slowly", "exits_in_a_row", p.quick,
			"last_exit", p.lastExit, "retry_in", delay)
	} else {
		p.state = sysapi.StateBackoff
		delay = s.opts.BackoffBase << (p.quick - 1)
		if delay > s.opts.BackoffMax || delay <= 0 {
			delay = s.opts.BackoffMax
		}
		log.Warn("service exited; restarting", "exit", p.lastExit, "ran", ran.Round(time.Millisecond), "in", delay)
	}
	p.nextStart = time.Now().Add(delay)
	p.timer = time.AfterFunc(delay, func() {
		s.post(func() {
			if (p.state == sysapi.StateBackoff || p.state == sysapi.StateFailed) && !p.wantStop {
				p.restarts++
				s.start(p)
			}
		})
	})
}

// checkReady moves started services to running once their ready path exists.
func (s *Supervisor) checkReady() {
	for _, p := range s.procs {
		if p.state == sysapi.StateStarting && p.pid != 0 {
			if _, err := os.Stat(p.svc.ReadyPath); err == nil {
				p.state = sysapi.StateRunning
				s.opts.Logger.Info("service is up", "service", p.svc.Name, "after", time.Since(p.since).Round(time.Millisecond))
				s.up(p.svc.Name)
			}
		}
	}
}

func (s *Supervisor) up(name string) {
	if s.opts.OnUp != nil {
		s.opts.OnUp(name)
	}
}

// startReady starts waiting services whose dependencies run, or whose wait
// for them has run out.
func (s *Supervisor) startReady() {
	for _, name := range s.order {
		p := s.procs[name]
		if p.state != sysapi.StateWaiting || p.wantStop {
			continue
		}
		ready := true
		for _, d := range p.svc.Deps {
			if s.procs[d].state != sysapi.StateRunning {
				ready = false
			}
		}
		if !ready && time.Since(p.depSince) < s.opts.DepWait {
			continue
		}
		if !ready {
			s.opts.Logger.Warn("starting service before its dependencies are up", "service", name, "deps", p.svc.Deps)
		}
		s.start(p)
	}
}

func (s *Supervisor) start(p *proc) {
	log := s.opts.Logger.With("service", p.svc.Name)
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if p.failedRun { // its output has drained by now (the backoff's delay)
		p.lastError = errorLines(p.logs.since(p.runSeq, 0))
		p.failedRun = false
	}
	p.runSeq = p.logs.lastSeq()
	r, w, err := os.Pipe()
	if err != nil {
		s.startFailed(p, err)
		return
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		r.Close()
		w.Close()
		s.startFailed(p, err)
		return
	}
	attr := &os.ProcAttr{
		Env:   append(os.Environ(), p.svc.Env...),
		Files: []*os.File{null, w, w},
		// Own process group: a stop reaches the service's children too.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	}
	proc, err := os.StartProcess(p.svc.Path, append([]string{p.svc.Name}, p.svc.Args...), attr)
	null.Close()
	w.Close()
	if err != nil {
		r.Close()
		s.startFailed(p, err)
		return
	}
	p.pid = proc.Pid
	proc.Release() // we reap with wait4 ourselves
	p.since = time.Now()
	p.state = sysapi.StateRunning
	if p.svc.ReadyPath != "" {
		os.Remove(p.svc.ReadyPath) // a stale socket from the last run says nothing
		p.state = sysapi.StateStarting
	}
	if p.state == sysapi.StateRunning {
		s.up(p.svc.Name)
	}
	p.nextStart = time.Time{}
	log.Info("service started", "pid", p.pid)
	s.wg.Add(1)
	go s.copyOutput(p.svc.Name, p.logs, r)
	if ws, ok := s.unknown[p.pid]; ok { // died before we looked
		delete(s.unknown, p.pid)
		s.handleExit(p, ws)
	}
	s.startReady()
}

func (s *Supervisor) startFailed(p *proc, err error) {
	p.lastExit = "start failed: " + err.Error()
	p.lastAt = time.Now()
	p.logs.add("edgebox init: " + p.lastExit)
	p.since = time.Now()
	s.handleExit(p, syscall.WaitStatus(127<<8))
	p.lastExit = "start failed: " + err.Error()
}

func (s *Supervisor) copyOutput(name string, ring *logRing, r io.ReadCloser) {
	defer s.wg.Done()
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	for sc.Scan() {
		line := sc.Text()
		ring.add(line)
		if s.opts.Remote != nil {
			s.opts.Remote.Line(name, line)
		}
		if s.opts.Console != nil {
			fmt.Fprintf(s.opts.Console, "[%s] %s\n", name, line)
		}
	}
}

// stop sends SIGTERM to p's process group and SIGKILL after its timeout;
// the returned channel closes when the process is gone.
func (s *Supervisor) stop(p *proc) chan struct{} {
	c := make(chan struct{})
	p.wantStop = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if p.pid == 0 {
		if p.state != sysapi.StateWaiting {
			p.state = sysapi.StateStopped
		}
		close(c)
		return c
	}
	p.stopped = append(p.stopped, c)
	pid := p.pid
	syscall.Kill(-pid, syscall.SIGTERM)
	if p.killTimer == nil {
		p.killTimer = time.AfterFunc(p.svc.StopTimeout, func() {
			s.post(func() {
				if p.pid == pid {
					s.opts.Logger.Warn("service ignored SIGTERM; killing it", "service", p.svc.Name, "after", p.svc.StopTimeout)
					syscall.Kill(-pid, syscall.SIGKILL)
				}
			})
		})
	}
	return c
}

// Restart stops a service (if running) and starts it again at once.
func (s *Supervisor) Restart(name string) error {
	var err error
	if e := s.do(func() {
		p, ok := s.procs[name]
		if !ok {
			err = fmt.Errorf("no service %q", name)
			return
		}
		p.restarts++
		if p.pid == 0 {
			p.wantStop = false
			p.quick = 0
			s.start(p)
			return
		}
		p.restartAfterStop = true
		s.stop(p)
	}); e != nil {
		return e
	}
	return err
}

// Signal sends sig to a service's main process (SIGHUP: reload config).
func (s *Supervisor) Signal(name string, sig syscall.Signal) error {
	var err error
	if e := s.do(func() {
		p, ok := s.procs[name]
		switch {
		case !ok:
			err = fmt.Errorf("no service %q", name)
		case p.pid == 0:
			err = fmt.Errorf("service %s is not running (%s)", name, p.state)
		default:
			err = syscall.Kill(p.pid, sig)
		}
	}); e != nil {
		return e
	}
	return err
}

// Status lists the services in start order.
func (s *Supervisor) Status() []sysapi.Service {
	var out []sysapi.Service
	s.do(func() {
		for _, name := range s.order {
			p := s.procs[name]
			st := sysapi.Service{Name: name, State: p.state, PID: p.pid, Restarts: p.restarts,
				LastExit: p.lastExit, LastExitAt: p.lastAt, NextStart: p.nextStart, LastError: p.lastError}
			if p.failedRun {
				st.LastError = errorLines(p.logs.since(p.runSeq, 0))
			}
			if p.pid != 0 {
				st.Since = p.since
				st.UptimeSec = time.Since(p.since).Seconds()
			}
			out = append(out, st)
		}
	})
	return out
}

// Logs returns a service's kept output lines after sequence number after.
func (s *Supervisor) Logs(name string, after uint64, limit int) ([]sysapi.LogLine, error) {
	p, ok := s.procs[name] // the map itself never changes after New
	if !ok {
		return nil, fmt.Errorf("no service %q", name)
	}
	return p.logs.since(after, limit), nil
}

// Shutdown stops every service in reverse dependency order, each with
// SIGTERM then SIGKILL after its timeout, and waits for their output to drain.
func (s *Supervisor) Shutdown() {
	for i := len(s.order) - 1; i >= 0; i-- {
		name := s.order[i]
		var c chan struct{}
		if s.do(func() { c = s.stop(s.procs[name]) }) != nil {
			return
		}
		select {
		case <-c:
		case <-time.After(s.procs[name].svc.StopTimeout + 5*time.Second):
			s.opts.Logger.Error("service did not die even after SIGKILL", "service", name)
		}
	}
	drained := make(chan struct{})
	go func() { s.wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(2 * time.Second): // a grandchild may hold the pipe open
	}
}
