package openvpn

import (
	"bufio"
	"edgebox/internal/lazyregexp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one running openvpn and its management connection.
type process struct {
	cmd     *exec.Cmd
	started time.Time
	exited  chan struct{} // closed once the process is reaped
	waitErr error         // why it exited; read after exited is closed
	out     *tail
	mgmt    *mgmtConn
}

// procSpec says how to start one openvpn.
type procSpec struct {
	argv    []string // prefix + binary + arguments
	sock    string   // management socket path
	isolate bool     // run in a fresh, empty network namespace
	log     *slog.Logger
	onProxy func() // called when openvpn starts waiting on an HTTP proxy
}

// openvpnArgs builds openvpn's command line. Defaults come before the
// profile so the profile can change them; what the box must control
// (management, device name, verbosity the log parser relies on) comes after
// it and wins.
//
// Nothing here may make openvpn look up a user, group or service name: the
// image has no /etc/passwd or /etc/group, and openvpn exits on a failed
// lookup ("failed to find UID for user root"). The management socket needs
// no --management-client-user: it lives in RunDir, mode 0700, so only root
// reaches it anyway.
func openvpnArgs(o *Options, profile, sock, devType string) []string {
	// server-poll-timeout: openvpn waits 120 s by default for a server
	// that does not answer (a TCP connect, a UDP handshake) before it
	// tries the profile's next remote; 20 s still covers a slow mobile
	// uplink, and a profile that sets its own wins.
	//
	// allow-compression asym: old servers (2.3/2.4, routers) push
	// comp-lzo or compress, and openvpn 2.6 refuses a pushed compression
	// by default ("OPTIONS ERROR: server pushed compression settings"),
	// reconnecting for ever. asym takes the server's compressed packets
	// and sends its own uncompressed (so no VORACLE leak from the box);
	// a profile's own allow-compression line wins.
	a := []string{"--connect-retry", "2", "60", "--server-poll-timeout", "20", "--allow-compression", "asym", "--config", profile}
	a = append(a, o.ExtraArgs...)
	a = append(a,
		"--management", sock, "unix",
		"--management-hold",
		"--management-query-passwords",
		"--auth-retry", "interact",
		"--dev", o.Interface, "--dev-type", devType,
		"--verb", "3",
		"--suppress-timestamps",
		// A redirect-gateway the server pushes without def1 would make
		// openvpn delete the main default route, which netctl owns and
		// moves with the uplink. The def1 of redirect-private joins a
		// pushed redirect-gateway's flags (openvpn ORs them), so all
		// traffic goes through two /1 routes instead; without a push
		// it redirects nothing (TestPushedRedirectGatewayKeepsDefaultRoute).
		"--redirect-private", "def1",
	)
	return a
}

// start runs openvpn and connects to its management socket.
func start(s procSpec) (*process, error) {
	os.Remove(s.sock)
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if s.isolate {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &process{cmd: cmd, started: time.Now(), exited: make(chan struct{}), out: &tail{max: 40, onProxy: s.onProxy}}
	// Pdeathsig fires when the forking thread exits, not the process, so
	// the fork happens on a thread kept locked until openvpn is reaped:
	// the runtime can never retire it under a live openvpn.
	startErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		pw.Close()
		startErr <- err
		if err != nil {
			pr.Close()
			return
		}
		outDone := make(chan struct{})
		go func() {
			defer close(outDone)
			p.out.copy(pr, s.log)
			pr.Close()
		}()
		err = cmd.Wait()
		<-outDone
		p.waitErr = err
		close(p.exited)
	}()
	if err := <-startErr; err != nil {
		return nil, fmt.Errorf("start openvpn: %w", err)
	}
	m, err := dialMgmt(s.sock, 10*time.Second, p.exited)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%w%s", err, p.out.errors())
	}
	p.mgmt = m
	return p, nil
}

// stop ends openvpn: SIGTERM, then SIGKILL if it lingers.
func (p *process) stop() {
	if p.mgmt != nil {
		defer p.mgmt.close()
	}
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// exitReason describes how the process ended, with its last error lines.
func (p *process) exitReason() string {
	msg := "openvpn exited"
	if p.waitErr != nil {
		msg += " (" + p.waitErr.Error() + ")"
	}
	return msg + p.out.errors()
}

// tail keeps the last lines openvpn printed, and forwards them to the log,
// repeated lines collapsed.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	// warnings are openvpn's DEPRECATED OPTION lines: printed once at
	// start, long before a failure they explain.
	warnings []string
	// proxySince is when openvpn sent CONNECT to an HTTP proxy that has
	// not answered yet. Only its output tells: while it waits, openvpn
	// does not serve the management interface at all.
	proxySince time.Time
	// proxyFailTarget and proxyFailAfter: openvpn itself gave up waiting
	// for the proxy's answer (taken by takeProxyFailure).
	proxyFailTarget string
	proxyFailAfter  time.Duration
	proxyTarget     string
	onProxy         func()
}

// repeatWindow is how long a repeated openvpn line stays collapsed.
const repeatWindow = 10 * time.Minute

var reAuthToken = lazyregexp.New(`(auth-token(?:-user)?)[ ,=]\S+`)

func (t *tail) copy(r io.Reader, log *slog.Logger) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	rep := repeats{window: repeatWindow}
	for sc.Scan() {
		// openvpn redacts most secrets itself; a pushed auth token it may
		// echo is cut here so it never reaches the log ring.
		line := reAuthToken.ReplaceAllString(sc.Text(), "$1 [redacted]")
		// Echoes of the management dialogue only repeat what the manager
		// logs itself.
		if log != nil && !strings.HasPrefix(line, "MANAGEMENT: ") {
			if out, ok := rep.filter(line, time.Now()); ok {
				log.Info(out)
			}
		}
		t.mu.Lock()
		proxyWait := false
		if (strings.Contains(line, "TCP port read timeout expired") || strings.Contains(line, "[soft,HTTP proxy error]")) && !t.proxySince.IsZero() {
			// openvpn gave up on the proxy itself (its server-poll-timeout,
			// 20 s from the box) before the manager's ProxyTimeout.
			t.proxyFailTarget, t.proxyFailAfter = t.proxyTarget, time.Since(t.proxySince).Round(time.Second)
			proxyWait = true // poke the manager to say so
		}
		if target, ok := proxyConnect(line); ok {
			t.proxySince, t.proxyTarget, proxyWait = time.Now(), target, true
		} else if !strings.HasPrefix(line, "Send to HTTP proxy") {
			t.proxySince, t.proxyTarget = time.Time{}, ""
		}
		if strings.Contains(line, "DEPRECATED OPTION") && len(t.warnings) < 5 && !slices.Contains(t.warnings, line) {
			t.warnings = append(t.warnings, line)
		}
		t.lines = append(t.lines, line)
		if len(t.lines) > t.max {
			t.lines = t.lines[len(t.lines)-t.max:]
		}
		t.mu.Unlock()
		if proxyWait && t.onProxy != nil {
			t.onProxy()
		}
	}
	if log != nil {
		for _, l := range rep.flush() {
			log.Info(l)
		}
	}
}

// proxyWait says since when openvpn waits for an HTTP proxy's answer to
// CONNECT target, or the zero time.
func (t *tail) proxyWait() (time.Time, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proxySince, t.proxyTarget
}

// takeProxyFailure returns, once, the proxy target openvpn gave up on and
// how long it had waited.
func (t *tail) takeProxyFailure() (string, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	target, after := t.proxyFailTarget, t.proxyFailAfter
	t.proxyFailTarget, t.proxyFailAfter = "", 0
	return target, after
}

// deprecated returns openvpn's DEPRECATED OPTION warnings seen so far.
func (t *tail) deprecated() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.warnings)
}

// errors returns the error lines seen, prefixed with ": ", or "".
func (t *tail) errors() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []string
	for _, l := range t.lines {
		if isErrorLine(l) {
			errs = append(errs, l)
		}
	}
	if len(errs) == 0 {
		return ""
	}
	return ": " + strings.Join(errs, "; ")
}

func isErrorLine(l string) bool {
	if isAdvice(l) {
		return false
	}
	for _, k := range []string{"error", "Error", "ERROR", "FATAL", "Cannot", "failed"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}

// isAdvice tells openvpn's advice from its errors: "Note: --cipher is not
// set ... when cipher negotiation failed" must not stand in front of the
// real error of a refused profile.
func isAdvice(l string) bool {
	return strings.HasPrefix(l, "Note:") || strings.Contains(l, "DEPRECATED OPTION")
}

// reFileLine finds openvpn's "path:line" references to the config file.
var reFileLine = lazyregexp.New(`(\S+\.ovpn):(\d+)`)

// rewriteLineRefs replaces "…/candidate.ovpn:14" in openvpn's messages with
// the line of the upload the admin knows.
func rewriteLineRefs(msg string, p *Profile) string {
	return reFileLine.ReplaceAllStringFunc(msg, func(ref string) string {
		m := reFileLine.FindStringSubmatch(ref)
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return ref
		}
		if o := p.originOf(n - p.headerLen()); o != "" {
			return o
		}
		return ref
	})
}

var errNoProfile = errors.New("no VPN profile imported yet")
