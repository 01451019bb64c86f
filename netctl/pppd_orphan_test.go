package netctl

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/modem"
)

// TestPPPDDiesWithNetctl: netctl is killed (kill -9, the OOM killer, a
// crash) while a PPP-only card (Sierra MC8775) is in a data call. pppd must
// not outlive it: an orphan pppd keeps the card's port in data mode and
// ppp0 up, and the next netctl's AT commands and its own pppd find the port
// taken: the box stays offline until the card is power-cycled (the first
// round's finding, for the PPP profile). netctl runs in a child process
// here; the stand-in pppd ends on SIGTERM as pppd does (hanging up).
func TestPPPDDiesWithNetctl(t *testing.T) {
	dir := t.TempDir()
	fakePPPD(t, dir, "polite") // writes the script; the child uses it
	child := exec.Command(os.Args[0], "-test.run=^TestPPPDOrphanHelper$", "-test.count=1")
	child.Env = append(os.Environ(), "NETCTL_PPPD_HELPER_DIR="+dir, "NETCTL_PPPD_HELPER_BIN="+pppdBinary)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	childDone := make(chan struct{})
	go func() { child.Wait(); close(childDone) }()
	t.Cleanup(func() { child.Process.Kill(); <-childDone })
	started := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "pppd started") {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-childDone:
		t.Fatal("the netctl stand-in exited before starting pppd")
	case <-time.After(20 * time.Second):
		t.Fatal("the netctl stand-in did not start pppd")
	}
	var pid int
	testenv.WaitFor(t, 10*time.Second, "pppd pid file", testenv.Cond(func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "pid.*"))
		if len(m) != 1 {
			return false
		}
		pid, _ = strconv.Atoi(strings.TrimPrefix(filepath.Ext(m[0]), "."))
		return pid > 0
	}))
	// The stand-in loops up to 60 s: end it should the test fail.
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	child.Process.Signal(syscall.SIGKILL)
	<-childDone
	alive := func() bool {
		// A zombie (reparented, not yet reaped) has exited: read its state.
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		return len(f) > 0 && f[0] != "Z"
	}
	testenv.WaitFor(t, 5*time.Second, "pppd to end with netctl", testenv.Cond(func() bool { return !alive() }))
}

// TestPPPDOrphanHelper is the netctl of TestPPPDDiesWithNetctl: it starts
// pppd as netctl does and waits to be killed.
func TestPPPDOrphanHelper(t *testing.T) {
	dir := os.Getenv("NETCTL_PPPD_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process of TestPPPDDiesWithNetctl")
	}
	pppdBinary = os.Getenv("NETCTL_PPPD_HELPER_BIN")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := startPPPD(modem.PPPParams{Port: "/dev/ttyUSB0", DialString: "ATD*99#", Init: []string{"AT"}, APN: modem.APN{Name: "internet"}}, filepath.Join(dir, "ppp"), log)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("pppd started\n")
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
	}
}
