package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/sysapi"
	"edgebox/internal/testenv"
)

// The test binary doubles as the supervised program: EDGEBOX_TEST_CHILD
// selects what the child does.
func TestMain(m *testing.M) {
	switch mode := os.Getenv("EDGEBOX_TEST_CHILD"); mode {
	case "":
		os.Exit(m.Run())
	default:
		child(mode)
	}
}

func child(mode string) {
	name := os.Args[0]
	if f := os.Getenv("EDGEBOX_TEST_RECORD"); f != "" {
		fh, _ := os.OpenFile(f, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		fmt.Fprintf(fh, "start %s\n", name)
		fh.Close()
	}
	if f := os.Getenv("EDGEBOX_TEST_READY"); f != "" {
		time.Sleep(100 * time.Millisecond) // dependents must wait for this
		os.WriteFile(f, nil, 0o644)
	}
	fmt.Printf("%s up pid %d\n", name, os.Getpid())
	fmt.Fprintf(os.Stderr, "%s says hello on stderr\n", name)
	switch mode {
	case "crash":
		os.Exit(3)
	case "crash-says-why":
		fmt.Fprintln(os.Stderr, `time=2026-12-07T21:00:00.000Z level=INFO msg="reading the config"`)
		fmt.Fprintln(os.Stderr, `time=2026-12-07T21:00:00.001Z level=ERROR msg="listen" err="listen tcp :443: bind: address already in use"`)
		fmt.Fprintln(os.Stderr, "shutting down")
		os.Exit(1)
	case "run":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGHUP)
		for s := range c {
			if s == syscall.SIGHUP {
				fmt.Println(name, "reloading")
				continue
			}
			if f := os.Getenv("EDGEBOX_TEST_RECORD"); f != "" {
				fh, _ := os.OpenFile(f, os.O_APPEND|os.O_WRONLY, 0o644)
				fmt.Fprintf(fh, "stop %s\n", name)
				fh.Close()
			}
			os.Exit(0)
		}
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(time.Hour)
	}
}

func testOptions(logs *testenv.LogBuffer) Options {
	return Options{
		BackoffBase: 50 * time.Millisecond, BackoffMax: 400 * time.Millisecond, StableAfter: 3 * time.Second,
		CrashLoopCount: 4, FailedRetry: time.Hour, DepWait: 10 * time.Second, StopTimeout: 2 * time.Second,
		LogLines: 50, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
}

func svc(name, mode, record string, deps ...string) Service {
	self, _ := os.Executable()
	return Service{Name: name, Path: self, Deps: deps,
		Env: []string{"EDGEBOX_TEST_CHILD=" + mode, "EDGEBOX_TEST_RECORD=" + record}}
}

func startSupervisor(t *testing.T, services []Service, logs *testenv.LogBuffer) *Supervisor {
	t.Helper()
	s, err := NewSupervisor(services, testOptions(logs))
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, s)
	return s
}

// startRun runs s until the test ends, then shuts it down.
func startRun(t *testing.T, s *Supervisor) {
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	t.Cleanup(func() {
		s.Shutdown()
		cancel()
		<-s.done
	})
}

func state(s *Supervisor, name string) sysapi.Service {
	for _, st := range s.Status() {
		if st.Name == name {
			return st
		}
	}
	return sysapi.Service{}
}

func readLines(t *testing.T, path string) []string {
	b, _ := os.ReadFile(path)
	return strings.Fields(strings.ReplaceAll(string(b), "\n", " | "))
}

func TestStartOrderAndShutdownOrder(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "record")
	logs := &testenv.LogBuffer{}
	// Declared out of order on purpose: the table order must not matter.
	netctl := svc("netctl", "run", rec)
	netctl.ReadyPath = filepath.Join(t.TempDir(), "netctl.sock")
	netctl.Env = append(netctl.Env, "EDGEBOX_TEST_READY="+netctl.ReadyPath)
	s := startSupervisor(t, []Service{
		svc("gateway", "run", rec, "netctl"),
		svc("web", "run", rec, "netctl"),
		netctl,
	}, logs)
	testenv.WaitFor(t, 5*time.Second, "all running", testenv.Cond(func() bool {
		for _, st := range s.Status() {
			if st.State != sysapi.StateRunning {
				return false
			}
		}
		return true
	}))
	testenv.WaitFor(t, 5*time.Second, "three starts recorded", testenv.Cond(func() bool {
		return strings.Count(strings.Join(readLines(t, rec), " "), "start") == 3
	}))
	s.Shutdown()
	got := strings.Join(readLines(t, rec), " ")
	// netctl starts first; stops last.
	if !strings.HasPrefix(got, "start netctl") {
		t.Fatalf("start order: %s", got)
	}
	if !strings.HasSuffix(got, "stop netctl |") {
		t.Fatalf("stop order: %s", got)
	}
	for _, st := range s.Status() {
		if st.State != sysapi.StateStopped || st.PID != 0 {
			t.Errorf("%s after shutdown: %+v", st.Name, st)
		}
	}
}

func TestOutputKeptInRingBuffer(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []Service{svc("web", "run", "")}, logs)
	testenv.WaitFor(t, 5*time.Second, "both lines", testenv.Cond(func() bool {
		l, _ := s.Logs("web", 0, 0)
		return len(l) == 2
	}))
	l, _ := s.Logs("web", 0, 0)
	all := l[0].Text + "\n" + l[1].Text
	if !strings.Contains(all, "web up pid") || !strings.Contains(all, "hello on stderr") {
		t.Fatalf("lines %+v", l)
	}
	if later, _ := s.Logs("web", l[1].Seq, 0); len(later) != 0 {
		t.Fatalf("lines after the last: %+v", later)
	}
	if err := s.Signal("web", syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "reload line", testenv.Cond(func() bool {
		l, _ := s.Logs("web", 2, 0)
		return len(l) == 1 && strings.Contains(l[0].Text, "reloading")
	}))
	if _, err := s.Logs("nope", 0, 0); err == nil {
		t.Fatal("logs of unknown service")
	}
}

func TestRingBufferKeepsNewest(t *testing.T) {
	r := newLogRing(3)
	for i := 1; i <= 5; i++ {
		r.add(fmt.Sprint(i))
	}
	got := r.since(0, 0)
	if len(got) != 3 || got[0].Text != "3" || got[2].Text != "5" || got[2].Seq != 5 {
		t.Fatalf("%+v", got)
	}
	if got := r.since(0, 2); len(got) != 2 || got[0].Text != "4" {
		t.Fatalf("limit: %+v", got)
	}
}

func TestRestartWithBackoffThenCrashLoopFails(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []Service{svc("flaky", "crash", "")}, logs)
	testenv.WaitFor(t, 10*time.Second, "failed state", testenv.Cond(func() bool { return state(s, "flaky").State == sysapi.StateFailed }))
	st := state(s, "flaky")
	if st.Restarts != 3 || st.LastExit != "exit status 3" {
		t.Fatalf("status %+v", st)
	}
	// Failed means retried slowly (an hour here), not spun.
	if d := time.Until(st.NextStart); d < 50*time.Minute {
		t.Fatalf("next start in %v", d)
	}
	time.Sleep(300 * time.Millisecond)
	if again := state(s, "flaky"); again.Restarts != 3 {
		t.Fatalf("restarted while failed: %+v", again)
	}
	// The backoff doubled between attempts: 50, 100, 200 ms.
	text := logs.String()
	for _, d := range []string{"in=50ms", "in=100ms", "in=200ms"} {
		if !strings.Contains(text, d) {
			t.Errorf("log lacks backoff %s:\n%s", d, text)
		}
	}
	if !strings.Contains(text, "crash-looping") {
		t.Errorf("no crash-loop message:\n%s", text)
	}
	// An explicit restart tries again at once.
	if err := s.Restart("flaky"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "restart count", testenv.Cond(func() bool { return state(s, "flaky").Restarts >= 4 }))
}

// TestCrashLoopSaysWhy: a crash-looping service's status carries the
// error line it printed, not only "exit status 1"; a service that runs
// fine has none.
func TestCrashLoopSaysWhy(t *testing.T) {
	s := startSupervisor(t, []Service{svc("web", "crash-says-why", ""), svc("ok", "run", "")}, &testenv.LogBuffer{})
	testenv.WaitFor(t, 10*time.Second, "failed state", testenv.Cond(func() bool { return state(s, "web").State == sysapi.StateFailed }))
	st := state(s, "web")
	want := `level=ERROR msg="listen" err="listen tcp :443: bind: address already in use"`
	if st.LastExit != "exit status 1" || st.LastError != want {
		t.Fatalf("status %+v\nwant last_error %q", st, want)
	}
	if ok := state(s, "ok"); ok.LastError != "" {
		t.Errorf("a running service shows an error: %+v", ok)
	}
}

func TestErrorLinesPicksTheReason(t *testing.T) {
	lines := func(ss ...string) []sysapi.LogLine {
		var out []sysapi.LogLine
		for i, s := range ss {
			out = append(out, sysapi.LogLine{Seq: uint64(i + 1), Text: s})
		}
		return out
	}
	for _, c := range []struct {
		run  []sysapi.LogLine
		want string
	}{
		{lines("starting", "config: /perm/edgebox/config.json: unexpected end of JSON input", "bye"), "config: /perm/edgebox/config.json: unexpected end of JSON input"},
		{lines("panic: runtime error: index out of range [3] with length 3", "", "goroutine 1 [running]:", "main.main()"), "panic: runtime error: index out of range [3] with length 3"},
		{lines("a", "error one", "error two", "error three"), "error two\nerror three"},
		{lines("up", "no words of trouble here"), "no words of trouble here"},
		{nil, ""},
		{lines(strings.Repeat("x", 400) + " error"), strings.Repeat("x", maxErrorLine) + "…"},
	} {
		if got := errorLines(c.run); got != c.want {
			t.Errorf("errorLines(%v) = %q, want %q", c.run, got, c.want)
		}
	}
}

func TestKilledServiceRestarts(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []Service{svc("web", "run", "")}, logs)
	testenv.WaitFor(t, 5*time.Second, "running", testenv.Cond(func() bool { return state(s, "web").PID != 0 }))
	old := state(s, "web").PID
	syscall.Kill(old, syscall.SIGKILL)
	testenv.WaitFor(t, 5*time.Second, "new pid", testenv.Cond(func() bool {
		st := state(s, "web")
		return st.PID != 0 && st.PID != old && st.State == sysapi.StateRunning
	}))
	st := state(s, "web")
	if st.Restarts != 1 || st.LastExit != "signal: killed" {
		t.Fatalf("%+v", st)
	}
}

func TestRestartViaAPIReplacesProcess(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []Service{svc("web", "run", "")}, logs)
	testenv.WaitFor(t, 5*time.Second, "running", testenv.Cond(func() bool { return state(s, "web").PID != 0 }))
	old := state(s, "web").PID
	if err := s.Restart("web"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "replaced", testenv.Cond(func() bool { p := state(s, "web").PID; return p != 0 && p != old }))
	if err := s.Restart("nope"); err == nil {
		t.Fatal("restart of unknown service")
	}
}

func TestShutdownKillsAfterTimeout(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []Service{svc("stubborn", "ignore-term", "")}, logs)
	testenv.WaitFor(t, 5*time.Second, "running", testenv.Cond(func() bool {
		l, _ := s.Logs("stubborn", 0, 0)
		return len(l) > 0 // up and has installed its SIGTERM ignore by now
	}))
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	s.Shutdown()
	took := time.Since(start)
	st := state(s, "stubborn")
	if st.State != sysapi.StateStopped || st.LastExit != "signal: killed" {
		t.Fatalf("%+v", st)
	}
	if took < 2*time.Second {
		t.Fatalf("killed before the stop timeout (%v)", took)
	}
	if !strings.Contains(logs.String(), "ignored SIGTERM") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

func TestMissingBinaryIsRetriedNotFatal(t *testing.T) {
	logs := &testenv.LogBuffer{}
	s := startSupervisor(t, []Service{{Name: "ghost", Path: "/nonexistent/ghost"}, svc("web", "run", "")}, logs)
	testenv.WaitFor(t, 10*time.Second, "ghost failed", testenv.Cond(func() bool { return state(s, "ghost").State == sysapi.StateFailed }))
	if st := state(s, "ghost"); !strings.Contains(st.LastExit, "no such file") {
		t.Fatalf("%+v", st)
	}
	if state(s, "web").State != sysapi.StateRunning {
		t.Fatal("a broken service took another down")
	}
}

func TestTableErrors(t *testing.T) {
	for _, tc := range []struct {
		svcs []Service
		want string
	}{
		{[]Service{{Name: "a", Deps: []string{"b"}}, {Name: "b", Deps: []string{"a"}}}, "cycle"},
		{[]Service{{Name: "a", Deps: []string{"zz"}}}, "unknown service zz"},
		{[]Service{{Name: "a"}, {Name: "a"}}, "twice"},
		{[]Service{{Name: "a/b"}}, "not valid"},
	} {
		if _, err := NewSupervisor(tc.svcs, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.svcs, err)
		}
	}
}
