package openvpn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

var netCounter atomic.Int32

// testNet is a pair of network namespaces joined by a veth: the VPN server
// lives in srv, the box's openvpn in cli. Addresses exist only inside them.
type testNet struct {
	n        int
	srv, cli string
	srvIP    string // server address on the veth
	tunNet   string // the tunnel subnet, /24
}

func newTestNet(t testing.TB) *testNet {
	t.Helper()
	testenv.RequireRoot(t, "/usr/sbin/openvpn", "ip", "openssl")
	n := int(netCounter.Add(1))
	pid := os.Getpid() % 100000
	tn := &testNet{
		n:      n,
		srv:    fmt.Sprintf("ovs-%d-%d", pid, n),
		cli:    fmt.Sprintf("ovc-%d-%d", pid, n),
		srvIP:  fmt.Sprintf("10.199.%d.1", n),
		tunNet: fmt.Sprintf("10.200.%d", n),
	}
	srv, cli := testenv.NewNetns(t, tn.srv), testenv.NewNetns(t, tn.cli)
	srv.Veth("vs", tn.srvIP+"/24", cli, "vc", fmt.Sprintf("10.199.%d.2/24", n))
	return tn
}

func mustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serverNoKeepalive, among startServer's extra lines, leaves out its
// "keepalive 1 4" (a comment line to openvpn).
const serverNoKeepalive = "# no keepalive"

// testServer is a real openvpn server in the srv namespace.
type testServer struct {
	t    testing.TB
	net  *testNet
	dir  string
	cmd  *exec.Cmd
	out  *testenv.LogBuffer
	done chan struct{}
}

// serverFiles writes the server's config and keys.
func startServer(t testing.TB, tn *testNet, pki *testPKI, tlsCrypt string, extra ...string) *testServer {
	return startServerTLS(t, tn, pki, "tls-crypt", tlsCrypt, extra...)
}

// startServerTLS starts a server whose control channel is protected by
// tlsDirective (tls-crypt, tls-crypt-v2 or tls-auth) with key.
func startServerTLS(t testing.TB, tn *testNet, pki *testPKI, tlsDirective, tlsKey string, extra ...string) *testServer {
	t.Helper()
	dir := t.TempDir()
	cert, key := pki.valid(t, "server", true)
	files := map[string]string{"ca.crt": pki.CA, "server.crt": cert, "server.key": key, "tc.key": tlsKey}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keepalive := "keepalive 1 4"
	if slices.Contains(extra, serverNoKeepalive) {
		keepalive = "" // a server that sends no pings and pushes none
	}
	conf := strings.Join(append([]string{
		"dev tun",
		"proto udp4",
		"local " + tn.srvIP,
		"port 1194",
		fmt.Sprintf("server %s.0 255.255.255.0", tn.tunNet),
		"topology subnet",
		"ca " + filepath.Join(dir, "ca.crt"),
		"cert " + filepath.Join(dir, "server.crt"),
		"key " + filepath.Join(dir, "server.key"),
		"dh none",
		tlsDirective + " " + filepath.Join(dir, "tc.key"),
		keepalive,
		"data-ciphers AES-256-GCM:CHACHA20-POLY1305",
		"hand-window 5",
		"verb 3",
	}, extra...), "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "server.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, net: tn, dir: dir}
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *testServer) start() {
	s.t.Helper()
	s.out = &testenv.LogBuffer{}
	s.cmd = exec.Command("ip", "netns", "exec", s.net.srv, "/usr/sbin/openvpn", "--config", filepath.Join(s.dir, "server.conf"))
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s.done = make(chan struct{})
	// Pdeathsig follows the forking thread, so fork from one that stays
	// locked until the server is reaped (see process.go).
	started := make(chan error, 1)
	go func(cmd *exec.Cmd, done chan struct{}) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait()
		}
		close(done)
	}(s.cmd, s.done)
	if err := <-started; err != nil {
		s.t.Fatal(err)
	}
	testenv.WaitFor(s.t, 10*time.Second, "openvpn server up", func() (bool, error) {
		select {
		case <-s.done:
			return false, testenv.Final(fmt.Errorf("openvpn server exited:\n%s", s.out.String()))
		default:
		}
		return s.out.Contains("Initialization Sequence Completed"), fmt.Errorf("its output:\n%s", s.out.String())
	})
}

// kill ends the server abruptly, as a crash or power cut would.
func (s *testServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
}

// clientProfile is the .ovpn an admin would upload for this server.
func clientProfile(tn *testNet, pki *testPKI, cert, key, tlsCrypt string, extra ...string) string {
	lines := append([]string{
		"client",
		"dev tun",
		"proto udp4",
		fmt.Sprintf("remote %s 1194", tn.srvIP),
		"nobind",
		"remote-cert-tls server",
		"data-ciphers AES-256-GCM:CHACHA20-POLY1305",
		"verb 3",
	}, extra...)
	lines = append(lines,
		"<ca>", strings.TrimSpace(pki.CA), "</ca>",
		"<cert>", strings.TrimSpace(cert), "</cert>",
		"<key>", strings.TrimSpace(key), "</key>",
		"<tls-crypt>", strings.TrimSpace(tlsCrypt), "</tls-crypt>",
	)
	return strings.Join(lines, "\n") + "\n"
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// stateLog records every state a Manager went through, since some (like
// RECONNECTING) last only milliseconds.
type stateLog struct {
	mu     sync.Mutex
	states []string
	errs   []string
	pids   map[int]bool
	logs   testenv.LogBuffer // everything the manager logged
}

func (l *stateLog) record(st Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.states); n == 0 || l.states[n-1] != st.State {
		l.states = append(l.states, st.State)
	}
	if st.LastError != "" {
		l.errs = append(l.errs, st.LastError)
	}
	if st.PID != 0 {
		if l.pids == nil {
			l.pids = map[int]bool{}
		}
		l.pids[st.PID] = true
	}
}

// seen reports whether state was reached at or after index from.
func (l *stateLog) seen(from int, state string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := from; i < len(l.states); i++ {
		if l.states[i] == state {
			return true
		}
	}
	return false
}

func (l *stateLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.states)
}

// newTestManager returns a Manager whose openvpn runs in tn.cli.
func newTestManager(t testing.TB, tn *testNet, opt Options) *Manager {
	m, _ := newTestManagerLog(t, tn, opt)
	return m
}

// managerLogs maps a Manager to its stateLog, so runManager can check
// after Run returned that no openvpn it started is left.
var managerLogs sync.Map

func newTestManagerLog(t testing.TB, tn *testNet, opt Options) (*Manager, *stateLog) {
	t.Helper()
	sl := &stateLog{}
	opt.OnChange = sl.record
	dir := t.TempDir()
	if opt.ProfileDir == "" {
		opt.ProfileDir = filepath.Join(dir, "secrets", "vpn")
	}
	opt.RunDir = filepath.Join(dir, "run")
	opt.Command = []string{"ip", "netns", "exec", tn.cli}
	if opt.Probe == nil {
		// the dead-server probe from where openvpn runs, never the host
		opt.Probe = func(ctx context.Context, dev string, addr netip.Addr) error {
			return testenv.DoIn(tn.cli, func() error { return PingOnce(ctx, dev, addr) })
		}
	}
	opt.MinBackoff = 200 * time.Millisecond
	opt.MaxBackoff = time.Second
	opt.ByteCountEvery = time.Second
	opt.ExtraArgs = append([]string{"--connect-retry", "1", "1", "--hand-window", "4"}, opt.ExtraArgs...)
	opt.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, &sl.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	managerLogs.Store(m, sl)
	return m, sl
}

// runManager starts m.Run and stops it when the test ends.
func runManager(t testing.TB, m *Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
			if st := m.Status(); st.State != StateStopped || st.PID != 0 {
				t.Errorf("after Run returned: state %s pid %d", st.State, st.PID)
			}
			if v, ok := managerLogs.Load(m); ok {
				sl := v.(*stateLog)
				sl.mu.Lock()
				for pid := range sl.pids {
					if syscall.Kill(pid, 0) == nil {
						t.Errorf("openvpn pid %d still running after Run returned", pid)
					}
				}
				sl.mu.Unlock()
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
	})
}

// waitStatus polls until ok accepts the status or timeout passes.
func waitStatus(t testing.TB, m *Manager, timeout time.Duration, what string, ok func(Status) bool) Status {
	t.Helper()
	var st Status
	testenv.WaitFor(t, timeout, what, func() (bool, error) {
		st = m.Status()
		return ok(st), fmt.Errorf("status: %+v", st)
	})
	return st
}

func connected(st Status) bool { return st.State == StateConnected && st.TunnelAddress != "" }
