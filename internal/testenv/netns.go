package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Netns is a named network namespace a test made; it is deleted (its
// processes killed first) when the test ends.
type Netns struct {
	Name string
	t    testing.TB
}

var nameSeq atomic.Int32

// UniqueName is prefix with this test process's pid and a sequence
// number, so parallel test binaries and repeated rigs never meet.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, os.Getpid()%100000, nameSeq.Add(1))
}

// NewNetns makes namespace name with its loopback up. A leftover of the
// same name (from a killed run) is deleted first.
func NewNetns(t testing.TB, name string) *Netns {
	t.Helper()
	RequireRoot(t, "ip")
	n := &Netns{Name: name, t: t}
	deleteNetns(name)
	n.run("ip", "netns", "add", name)
	t.Cleanup(func() { deleteNetns(name) })
	n.IP("link", "set", "lo", "up")
	return n
}

// deleteNetns kills what still runs in namespace name (a process keeps a
// namespace alive after its name is gone) and deletes it.
func deleteNetns(name string) {
	killProcsIn(name)
	exec.Command("ip", "netns", "del", name).Run()
}

// KillProcs SIGKILLs every process in the namespace (a peer's crash, or
// a dropped call), never the test binary itself: one of its threads may
// be in the namespace.
func (n *Netns) KillProcs() { killProcsIn(n.Name) }

func killProcsIn(name string) {
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Exists reports whether namespace name is present under /run/netns.
func Exists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}

func (n *Netns) run(name string, args ...string) string {
	n.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// IP runs `ip -n <ns> args...` and fails the test if it fails.
func (n *Netns) IP(args ...string) string {
	n.t.Helper()
	return n.run("ip", append([]string{"-n", n.Name}, args...)...)
}

// Exec runs a short command inside the namespace to its end and fails
// the test if it fails (sysctl, ss, iptables).
func (n *Netns) Exec(args ...string) string {
	n.t.Helper()
	return n.run("ip", append([]string{"netns", "exec", n.Name}, args...)...)
}

// Veth wires this namespace (interface ifName, address addr in CIDR
// form) to peer (peerIf, peerAddr) and sets both ends up. An empty
// address leaves that end without one.
func (n *Netns) Veth(ifName, addr string, peer *Netns, peerIf, peerAddr string) {
	n.t.Helper()
	n.run("ip", "link", "add", ifName, "netns", n.Name, "type", "veth", "peer", "name", peerIf, "netns", peer.Name)
	if addr != "" {
		n.IP("addr", "add", addr, "dev", ifName)
	}
	if peerAddr != "" {
		peer.IP("addr", "add", peerAddr, "dev", peerIf)
	}
	n.IP("link", "set", ifName, "up")
	peer.IP("link", "set", peerIf, "up")
}

// Handle opens the namespace; the handle is closed with the test.
func (n *Netns) Handle() netns.NsHandle {
	n.t.Helper()
	h, err := netns.GetFromName(n.Name)
	if err != nil {
		n.t.Fatalf("open netns %s: %v", n.Name, err)
	}
	n.t.Cleanup(func() { h.Close() })
	return h
}

// Do runs fn on an OS thread switched into the namespace; sockets fn
// makes stay in it. It may be called from any goroutine.
func (n *Netns) Do(fn func() error) error { return DoIn(n.Name, fn) }

// DoIn is Do for a namespace known only by name.
func DoIn(name string, fn func() error) error {
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer h.Close()
	return DoInHandle(h, fn)
}

// DoInHandle is Do for an open namespace handle.
//
// The namespace belongs to the thread, not the goroutine, so fn runs on
// a fresh goroutine locked to its thread. The thread is switched back
// afterwards and only then unlocked; if switching back fails it stays
// locked, and Go ends the thread with its goroutine instead of running
// other code in the wrong namespace.
func DoInHandle(h netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := enter(h)
		if err != nil {
			runtime.UnlockOSThread() // nothing changed on this thread
			errc <- err
			return
		}
		err = fn()
		if restore() == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// enter switches the calling (locked) thread into h and returns how to
// switch it back.
func enter(h netns.NsHandle) (restore func() error, err error) {
	orig, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("current netns: %w", err)
	}
	if err := netns.Set(h); err != nil {
		orig.Close()
		return nil, fmt.Errorf("setns: %w", err)
	}
	return func() error {
		defer orig.Close()
		return netns.Set(orig)
	}, nil
}

// DialContext opens a connection from inside the namespace (the socket
// is made on a thread in it; a socket stays where it was made).
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return DialIn(n.Name)(ctx, network, addr)
}

// Dial is DialContext with a 10 s limit.
func (n *Netns) Dial(network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.DialContext(ctx, network, addr)
}

// DialIn is a dial function for namespace name, for transports.
func DialIn(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := DoIn(name, func() error {
			var d net.Dialer
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// HTTPClient is an HTTP client whose connections start in the namespace.
func (n *Netns) HTTPClient() *http.Client { return HTTPClientIn(n.Name) }

// HTTPClientIn is an HTTP client whose connections start in namespace
// name. It accepts any certificate (the boxes under test serve their own
// self-signed one) and opens a new connection per request, so a request
// after a link change does not reuse a connection over the old path.
func HTTPClientIn(name string) *http.Client {
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext:       DialIn(name),
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
	}}
}
