package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUntilReturnsOnceTrue(t *testing.T) {
	calls := 0
	err := Until(10*time.Second, "third call", func() (bool, error) {
		calls++
		return calls == 3, errors.New("not yet")
	})
	if err != nil || calls != 3 {
		t.Fatalf("Until = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestUntilTimesOutWithWhatAndLastError(t *testing.T) {
	calls := 0
	err := Until(100*time.Millisecond, "the lease", func() (bool, error) {
		calls++
		return false, fmt.Errorf("attempt %d: no reply", calls)
	})
	if err == nil {
		t.Fatal("Until returned nil for a condition that never holds")
	}
	want := fmt.Sprintf("the lease: not within 100ms: attempt %d: no reply", calls)
	if err.Error() != want || calls < 2 {
		t.Fatalf("Until = %q after %d calls, want %q after several", err, calls, want)
	}
}

func TestUntilStopsAtFinal(t *testing.T) {
	calls := 0
	err := Until(time.Minute, "the server", func() (bool, error) {
		calls++
		if calls == 2 {
			return false, Final(errors.New("it exited"))
		}
		return false, errors.New("not yet")
	})
	if err == nil || err.Error() != "the server: it exited" || calls != 2 {
		t.Fatalf("Until = %v after %d calls, want \"the server: it exited\" after 2", err, calls)
	}
}

// TestWaitForFailsTheTest runs the test binary again for a test whose
// WaitFor times out, and reads its verdict.
func TestWaitForFailsTheTest(t *testing.T) {
	if os.Getenv("TESTENV_HELPER") == "waitfor" {
		WaitFor(t, 50*time.Millisecond, "the helper's condition", func() (bool, error) {
			return false, errors.New("still 41")
		})
		t.Log("WaitFor returned after its timeout")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestWaitForFailsTheTest$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_HELPER=waitfor")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the helper test passed:\n%s", out)
	}
	if !strings.Contains(string(out), "the helper's condition: not within 50ms: still 41") ||
		strings.Contains(string(out), "WaitFor returned") || !strings.Contains(string(out), "--- FAIL") {
		t.Fatalf("the helper's failure does not say what and why, or went on:\n%s", out)
	}
}

func TestLogBufferConcurrent(t *testing.T) {
	var l LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&l, "w%d-%d\n", i, j)
			}
		})
	}
	go func() {
		wg.Wait()
		l.Write([]byte("all written\n"))
	}()
	l.WaitFor(t, 10*time.Second, "all written")
	if n := strings.Count(l.String(), "\n"); n != 801 {
		t.Fatalf("%d lines, want 801", n)
	}
	if !l.Contains("w7-99") || l.Count("w3-") != 100 {
		t.Fatalf("lost writes:\n%s", Tail(l.String(), 500))
	}
	if err := l.Until(20*time.Millisecond, "never written"); err == nil || !strings.Contains(err.Error(), "all written") {
		t.Fatalf("Until for missing text = %v, want the output so far in the error", err)
	}
}

func TestFreePortTCPAndUDP(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("tcp on free port %d: %v", p, err)
	}
	defer l.Close()
	c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("udp on free port %d: %v", p, err)
	}
	c.Close()
}
