package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// nsInode is the inode of namespace file path (two equal inodes are the
// same namespace).
func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestNetnsCleanupDeletes(t *testing.T) {
	RequireRoot(t, "ip")
	name := UniqueName("tenv-del")
	var pid int
	t.Run("rig", func(t *testing.T) {
		n := NewNetns(t, name)
		if !Exists(name) {
			t.Fatalf("netns %s not made", name)
		}
		// A process in the namespace would keep it alive after `ip netns
		// del`; cleanup must end it too.
		p := n.Command("sleep", "300").Start()
		pid = p.Cmd.Process.Pid
	})
	if Exists(name) {
		t.Errorf("netns %s still there after its test ended", name)
	}
	if alive(pid) {
		t.Errorf("process %d in the namespace still alive after its test ended", pid)
	}
}

func TestVethAndDial(t *testing.T) {
	RequireRoot(t, "ip")
	a := NewNetns(t, UniqueName("tenv-a"))
	b := NewNetns(t, UniqueName("tenv-b"))
	a.Veth("va", "10.250.0.1/24", b, "vb", "10.250.0.2/24")
	var l net.Listener
	if err := b.Do(func() (err error) { l, err = net.Listen("tcp4", "10.250.0.2:0"); return }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.WriteString(c, c.RemoteAddr().String())
			c.Close()
		}
	}()
	c, err := a.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("dial from %s to %s: %v", a.Name, l.Addr(), err)
	}
	defer c.Close()
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "10.250.0.1:") {
		t.Fatalf("the peer saw %q, want a connection from 10.250.0.1 (a's veth)", got)
	}
	// The host's namespace has no such address: the dial really left from a.
	if _, err := net.DialTimeout("tcp4", l.Addr().String(), 200*time.Millisecond); err == nil {
		t.Fatalf("%s reachable from the host namespace; the rig leaks", l.Addr())
	}
}

// TestDoRestoresThreads: fn runs in the namespace, and afterwards no
// thread of the process is left in it.
func TestDoRestoresThreads(t *testing.T) {
	RequireRoot(t, "ip")
	n := NewNetns(t, UniqueName("tenv-do"))
	want := nsInode(t, filepath.Join("/run/netns", n.Name))
	host := nsInode(t, "/proc/self/ns/net")
	for i := range 50 {
		err := n.Do(func() error {
			if got := nsInode(t, fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid())); got != want {
				return fmt.Errorf("fn ran in netns inode %d, want %d", got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
	for _, p := range tasks {
		if got := nsInode(t, p); got != host {
			t.Errorf("%s is in netns inode %d after Do, want the host's %d", p, got, host)
		}
	}
}

// TestEnterRestoresTheThread checks the switch back on one locked thread.
func TestEnterRestoresTheThread(t *testing.T) {
	RequireRoot(t, "ip")
	n := NewNetns(t, UniqueName("tenv-enter"))
	h := n.Handle()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self := fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid())
	before := nsInode(t, self)
	restore, err := enter(h)
	if err != nil {
		t.Fatal(err)
	}
	if nsInode(t, self) != nsInode(t, "/run/netns/"+n.Name) {
		t.Error("enter did not switch the thread")
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if after := nsInode(t, self); after != before {
		t.Fatalf("thread in netns inode %d after restore, want %d", after, before)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func TestCommandKillsItsChildren(t *testing.T) {
	var child int
	t.Run("proc", func(t *testing.T) {
		p := Command(t, "sh", "-c", "sleep 300 & echo child=$!; wait").Start()
		p.Log.WaitFor(t, 10*time.Second, "child=")
		_, after, _ := strings.Cut(p.Log.String(), "child=")
		var err error
		if child, err = strconv.Atoi(strings.TrimSpace(after)); err != nil {
			t.Fatalf("child pid in %q: %v", p.Log.String(), err)
		}
		if !alive(child) {
			t.Fatalf("child %d not running", child)
		}
	})
	WaitFor(t, 5*time.Second, fmt.Sprintf("child %d gone", child), Cond(func() bool { return !alive(child) }))
}

func TestProcStopAndExit(t *testing.T) {
	p := Command(t, "sh", "-c", "exit 3").Start()
	if err := p.Wait(10 * time.Second); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
	q := Command(t, "sleep", "300").Start()
	q.Stop(5 * time.Second)
	select {
	case <-q.Done():
	default:
		t.Fatal("Stop returned with the process running")
	}
}
