package testenv

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Proc is a process a test started (in a namespace or in its own); it is
// killed, with every process it forked, when the test ends.
type Proc struct {
	Cmd *exec.Cmd
	// Log gets the process's stdout and stderr unless the caller set
	// Cmd.Stdout/Cmd.Stderr before Start.
	Log  *LogBuffer
	t    testing.TB
	done chan struct{}
	err  error
}

// Command prepares name with args to run inside the namespace (through
// `ip netns exec`, which execs it: the pid is the program's). Set
// Cmd.Dir, Cmd.Env or Cmd.Stdin, then Start.
func (n *Netns) Command(name string, args ...string) *Proc {
	return Command(n.t, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Command prepares name with args to run in the test's own namespace.
func Command(t testing.TB, name string, args ...string) *Proc {
	p := &Proc{Cmd: exec.Command(name, args...), Log: &LogBuffer{}, t: t, done: make(chan struct{})}
	// Its own process group, so that Stop reaches the workers it forks
	// (kamailio, dnsmasq's helpers, sh -c); Pdeathsig ends it should the
	// test binary die before its cleanups run.
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A child that left the group may hold the output pipe open; do not
	// let that hang the cleanup.
	p.Cmd.WaitDelay = 5 * time.Second
	return p
}

// Start starts the process (failing the test if it cannot) and stops it
// when the test ends.
func (p *Proc) Start() *Proc {
	p.t.Helper()
	if p.Cmd.Stdout == nil {
		p.Cmd.Stdout = p.Log
	}
	if p.Cmd.Stderr == nil {
		p.Cmd.Stderr = p.Log
	}
	if err := p.Cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Cmd, err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	p.t.Cleanup(p.Kill)
	return p
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the process's exit error; valid once Done is closed.
func (p *Proc) Err() error { return p.err }

// Wait waits up to timeout for the process to exit by itself and returns
// its exit error.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.Cmd, timeout)
	}
}

// Kill kills the process group at once and waits for the process.
func (p *Proc) Kill() {
	if p.Cmd.Process == nil {
		return
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop asks the process group to end (SIGTERM), waits up to grace, then
// kills it.
func (p *Proc) Stop(grace time.Duration) {
	if p.Cmd.Process == nil {
		return
	}
	syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	p.Kill()
}
