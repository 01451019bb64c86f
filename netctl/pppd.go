package netctl

// pppd for PPP-only modems: start it without secrets on its command line,
// read what IPCP negotiated, wait for ppp0's address, stop it.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"edgebox/internal/lazyregexp"
	"edgebox/modem"
)

// pppDown takes the modem uplink down when pppd's call ended: pppd removed
// ppp0 with its address, so the uplink has neither carrier nor address
// until the next call configures it again.
func (m *modemManager) pppDown() {
	s := m.s
	s.mu.Lock()
	if u := s.uplinkLocked("modem"); u != nil && u.Iface == pppIface {
		u.exists, u.carrier = false, false
		if u.addr != nil {
			s.clearAddrLocked(u)
		}
	}
	m.mu.Lock()
	m.carrier = false
	m.mu.Unlock()
	s.mu.Unlock()
	s.wake()
}

// pppdBinary is the pppd that startPPPD runs (tests replace it).
var pppdBinary = "pppd"

// startPPPD runs pppd for a PPP-only modem. The APN password never goes on
// pppd's command line (any local user can read /proc/PID/cmdline): it is
// written to a 0600 options file in secretDir that pppd reads with "file";
// the file is removed when pppd exits. The logged command line is redacted.
func startPPPD(p modem.PPPParams, secretDir string, log *slog.Logger) (*pppdProc, error) {
	args := modem.PPPDArgs(p)
	if len(args) == 0 {
		return nil, errors.New("the modem profile gives no pppd arguments")
	}
	// netctl owns the default route and resolv.conf: pppd must not touch them.
	args = append(args, "nodefaultroute", "unit", "0")
	if i := slices.Index(args, "replacedefaultroute"); i >= 0 {
		args = slices.Delete(args, i, i+1)
	}
	args, secrets := splitSecretOptions(args)
	var secretFile string
	if len(secrets) > 0 {
		if err := os.MkdirAll(secretDir, 0o700); err != nil {
			return nil, fmt.Errorf("pppd options: %w", err)
		}
		f, err := os.CreateTemp(secretDir, "pppd-secret-*")
		if err != nil {
			return nil, fmt.Errorf("pppd options: %w", err)
		}
		secretFile = f.Name()
		_, werr := f.WriteString(pppdOptionsFile(secrets))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(secretFile)
			return nil, fmt.Errorf("pppd options: %w", werr)
		}
		args = append(args, "file", secretFile)
	}
	cmd := exec.Command(pppdBinary, args...)
	// With nodetach pppd also writes its messages to stdout: they go to
	// netctl's log and tell the DNS servers the peer gave (usepeerdns).
	out := &pppdOutput{w: os.Stderr}
	cmd.Stdout, cmd.Stderr = out, out
	// pppd ends (and hangs up) with netctl: killed -9, netctl would leave
	// it holding the card's port in data mode and ppp0 up, where the next
	// netctl can neither talk AT nor dial (the box offline until the card
	// is power-cycled). Pdeathsig follows the forking thread, not the
	// process, so the fork happens on a thread kept locked until pppd is
	// reaped, as openvpn's start does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	proc := &pppdProc{cmd: cmd, out: out, done: make(chan struct{})}
	startErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		startErr <- err
		if err == nil {
			proc.err = cmd.Wait()
		}
		if secretFile != "" {
			os.Remove(secretFile)
		}
		close(proc.done)
	}()
	if err := <-startErr; err != nil {
		return nil, err
	}
	log.Info("pppd started", "args", strings.Join(redactArgv(args), " "))
	return proc, nil
}

// pppdProc is a running pppd.
type pppdProc struct {
	cmd  *exec.Cmd
	out  *pppdOutput
	done chan struct{} // closed when pppd has exited and been reaped
	err  error         // cmd.Wait's, set before done closes
}

// pppdOutput passes pppd's messages on to w and keeps what IPCP
// negotiated. pppd 2.4.9 prints (ipcp_up):
//
//	local  IP address 10.66.0.2
//	remote IP address 10.66.0.1
//	primary   DNS address 10.66.0.53
//	secondary DNS address 10.66.0.54
type pppdOutput struct {
	w io.Writer

	mu             sync.Mutex
	partial        []byte
	local, remote  netip.Addr
	primary, secon netip.Addr
}

func (o *pppdOutput) Write(b []byte) (int, error) {
	o.w.Write(b)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, b...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		if key, a, ok := parsePPPDLine(string(o.partial[:i])); ok {
			switch key {
			case "local":
				o.local = a
			case "remote":
				o.remote = a
			case "primary":
				o.primary = a
			case "secondary":
				o.secon = a
			}
		}
		o.partial = o.partial[i+1:]
	}
	if len(o.partial) > 4096 { // no line is that long
		o.partial = o.partial[:0]
	}
	return len(b), nil
}

// dns is the peer's DNS servers, primary first.
func (o *pppdOutput) dns() []netip.Addr {
	o.mu.Lock()
	defer o.mu.Unlock()
	var d []netip.Addr
	for _, a := range []netip.Addr{o.primary, o.secon} {
		if a.IsValid() {
			d = append(d, a)
		}
	}
	return d
}

// parsePPPDLine reads one of pppd's IPCP notices; key is local, remote,
// primary or secondary. A syslog-style prefix before the text is allowed.
func parsePPPDLine(line string) (key string, addr netip.Addr, ok bool) {
	f := strings.Fields(line)
	for i := 0; i+3 < len(f); i++ {
		var k string
		switch {
		case (f[i] == "local" || f[i] == "remote") && f[i+1] == "IP" && f[i+2] == "address":
			k = f[i]
		case (f[i] == "primary" || f[i] == "secondary") && f[i+1] == "DNS" && f[i+2] == "address":
			k = f[i]
		default:
			continue
		}
		a, err := netip.ParseAddr(f[i+3])
		if err != nil || !a.Is4() || i+4 != len(f) {
			return "", netip.Addr{}, false
		}
		return k, a, true
	}
	return "", netip.Addr{}, false
}

// secretOptions are pppd/chat words whose next word is a secret.
var secretOptions = []string{"password", "pin", "--pin", "-pin"}

// splitSecretOptions takes "password X" pairs out of a pppd argv.
func splitSecretOptions(args []string) (public, secret []string) {
	for i := 0; i < len(args); i++ {
		if args[i] == "password" && i+1 < len(args) {
			secret = append(secret, args[i], args[i+1])
			i++
			continue
		}
		public = append(public, args[i])
	}
	return public, secret
}

// pppdOptionsFile renders option words for pppd's "file" option: each
// word double-quoted with backslash escapes, one option per line.
func pppdOptionsFile(words []string) string {
	var b strings.Builder
	for i := 0; i < len(words); i += 2 {
		b.WriteString(words[i])
		if i+1 < len(words) {
			b.WriteString(" \"")
			for _, r := range words[i+1] {
				if r == '"' || r == '\\' {
					b.WriteByte('\\')
				}
				b.WriteRune(r)
			}
			b.WriteString("\"")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// cpinRe finds a PIN or PUK in an AT command (AT+CPIN="1234", AT+CLCK=...,
// AT+CPWD=...) embedded in any word, e.g. a chat script.
var cpinRe = lazyregexp.New(`(?i)(\+C(?:PIN|LCK|PWD)[=:]\s*)[^\s']*`)

// redactArgv returns a copy of argv fit for logs: the word after
// "password" or a PIN option becomes "***", and PINs in AT commands inside
// any word (chat scripts) are hidden.
func redactArgv(argv []string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if i > 0 && slices.Contains(secretOptions, strings.ToLower(argv[i-1])) {
			out[i] = "***"
			continue
		}
		out[i] = cpinRe.ReplaceAllString(a, "${1}***")
	}
	return out
}

// pppIface is the interface pppd creates with "unit 0".
const pppIface = "ppp0"

// waitPPPAddress waits for pppd to configure iface and returns its
// address and the peer's DNS servers as an uplink configuration
// (point-to-point: no gateway).
func waitPPPAddress(ctx context.Context, iface string, p *pppdProc, limit time.Duration) (*addrConfig, error) {
	out := p.out
	end := time.Now().Add(limit)
	var addrSince time.Time
	for time.Now().Before(end) {
		if p, ok := linkIPv4(iface); ok {
			// pppd prints the DNS notices around the moment it sets the
			// address: give them a moment (a peer may send none).
			if addrSince.IsZero() {
				addrSince = time.Now()
			}
			if dns := out.dns(); len(dns) > 0 || time.Since(addrSince) > 3*time.Second {
				return &addrConfig{Address: p, DNS: dns}, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.done:
			return nil, fmt.Errorf("pppd exited before %s came up: %v", iface, p.err)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("pppd did not bring %s up within %v", iface, limit)
}

// pppdStopTimeout is how long stopPPPD waits after SIGINT (pppd hangs up,
// runs its disconnect script and exits) before SIGKILL.
var pppdStopTimeout = 15 * time.Second

// stopPPPD ends pppd and returns once it has exited: after SIGINT, and
// SIGKILL when it is still there after pppdStopTimeout. Only then is the
// tty free for the engine (shared AT port) or the next call.
func stopPPPD(p *pppdProc, log *slog.Logger) {
	if p == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	t := time.NewTimer(pppdStopTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return
	case <-t.C:
	}
	log.Warn("pppd did not exit after SIGINT; killing it", "pid", p.cmd.Process.Pid, "after", pppdStopTimeout)
	p.cmd.Process.Kill()
	t.Reset(pppdStopTimeout)
	select {
	case <-p.done:
	case <-t.C:
		// Unkillable (stuck in the kernel): nothing more to do here.
		log.Error("pppd still running after SIGKILL", "pid", p.cmd.Process.Pid)
	}
}
