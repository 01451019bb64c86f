package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// TestCallFootprint holds footprintCalls calls up, then as many again:
// the figures are the growth from the first set to both, so what the
// gateway holds once whatever the number of calls (the portal's
// keep-alive connections, the test's own goroutines) cancels out.
const footprintCalls = 20

// leanHeapBudgetKB is the live heap an established lean call may hold
// (issue 17: memory per call; every KB of it is about 2 KB of RSS at
// GOGC 100). 34 KB before the signalling socket's buffers were cut to
// 512 bytes each (smallWSBuffers), 28 after; 26.7-27.6 once the calls
// shared one copy of the config (760 bytes each before); 23.6-24.4 once
// the client's message channel held pointers (its 4 Messages were 1.4
// KB), the offer's strings were copied out of its parse (0.9 KB), the
// INVITE's wait context ended at the answer (0.5 KB) and the DTMF queue
// came with the first digits; 18.7-19.2 once a call past the answer's
// accepted window kept a slim copy of its SIP dialog instead of sipgo's
// whole session (dialogslim.go: the INVITE, the 200 and the ACK template,
// about 6 KB, for 2 KB) and the leg no longer held its finished
// handshake's context and grace timer.
const leanHeapBudgetKB = 20

// TestCallFootprint measures what an established call costs the gateway,
// on both stacks: goroutines and live heap per call. The browsers run in
// a child process (this test binary again, in footprintBrowsers), so the
// counts are the gateway's alone. Goroutines are told apart by their
// stacks: the call's signalling (its run loop on the socket's handler and
// the socket's reader) and the rest, the media stack's. A lean call's
// media stack holds none once the handshake's goroutines ended, and the
// whole call at most 2 (issue 17). The heap figures are logged, with the
// ratio of the stacks.
func TestCallFootprint(t *testing.T) {
	if os.Getenv("FOOTPRINT_PORTAL") != "" {
		footprintBrowsers(t)
		return
	}
	got := map[string]footprint{}
	for _, s := range stacks {
		t.Run("stack="+s, func(t *testing.T) {
			f := measureFootprint(t)
			got[s] = f
			t.Logf("%s: %.2f goroutines (%.2f of the media stack), %.1f KB live heap and %.1f KB of stacks per established call (%d calls to %d)",
				s, f.goroutines, f.media, f.heapKB, f.stackKB, footprintCalls, 2*footprintCalls)
			if s == "lean" && f.media > 0 {
				t.Errorf("a lean call's media stack holds %.2f goroutines, want none", f.media)
			}
			if s == "lean" && f.goroutines > 2 {
				t.Errorf("a lean call holds %.2f goroutines, want at most 2", f.goroutines)
			}
			if s == "lean" && f.heapKB > leanHeapBudgetKB {
				t.Errorf("a lean call holds %.1f KB of live heap, want at most %d KB", f.heapKB, leanHeapBudgetKB)
			}
		})
	}
	if p, l := got["pion"], got["lean"]; p.heapKB > 0 && l.heapKB > 0 {
		t.Logf("lean/pion: goroutines %.2f/%.2f, heap %.1f/%.1f KB (%.2fx)",
			l.goroutines, p.goroutines, l.heapKB, p.heapKB, l.heapKB/p.heapKB)
	}
}

type footprint struct{ goroutines, media, heapKB, stackKB float64 }

func measureFootprint(t *testing.T) footprint {
	// $FOOTPRINT_HEAP_DIR: heap profiles of every allocation at both
	// counts, per stack: go tool pprof -base first.pprof second.pprof
	// shows what the later calls hold
	heapDir := os.Getenv("FOOTPRINT_HEAP_DIR")
	if heapDir != "" {
		defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
		runtime.MemProfileRate = 1
	}
	writeHeap := func(n int) {
		if heapDir == "" {
			return
		}
		name := filepath.Join(heapDir, fmt.Sprintf("heap-%s-%d.pprof", strings.ReplaceAll(t.Name(), "/", "-"), n))
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	// the calls measured are past the answer's accepted window (32 s;
	// shortened here), as nearly every call is: their SIP dialog is slim
	t.Cleanup(gateway.SetAcceptedWindow(500 * time.Millisecond))
	uas := startSIPp(t, "uas_echo", 2*footprintCalls)
	cfg := testConfig(t, uas.addr())
	cfg.Media.RTPPortMin, cfg.Media.RTPPortMax = freeRTPRange(t, 2*footprintCalls+2)
	svc := startGateway(t, cfg)

	// pipes and a file: exec starts no copying goroutines in this process
	errLog, err := os.CreateTemp(t.TempDir(), "browsers")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCallFootprint$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FOOTPRINT_PORTAL="+portalBase(svc), "GATEWAY_TEST_STACK=")
	cmd.Stderr = errLog
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stdin.Close() // the browsers hang up and exit
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	}
	t.Cleanup(stop)
	up := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		var out []string // the child's test output, for its failure
		for sc.Scan() {
			line := sc.Text()
			out = append(out, line)
			if strings.HasPrefix(line, "calls up") || strings.HasPrefix(line, "FAIL") {
				up <- strings.Join(out, "\n")
			}
		}
		close(up)
	}()
	measure := func(n int) (int, int64) {
		select {
		case out := <-up:
			if !strings.HasSuffix(out, "calls up "+strconv.Itoa(n)) {
				b, _ := os.ReadFile(errLog.Name())
				t.Fatalf("the browsers failed: %s\n%s", out, b)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("the browsers' calls did not come up within 2 minutes")
		}
		waitFor(t, 30*time.Second, "every call on the fast path", func() bool {
			calls := svc.Snapshot()
			if len(calls) != n {
				return false
			}
			for _, ci := range calls {
				if ci.MediaPath != gateway.PathFast {
					return false
				}
			}
			return true
		})
		requireStack(t, svc.Snapshot())
		waitFor(t, 10*time.Second, "every call's SIP dialog slimmed", func() bool { return gateway.DialogsSlimmed(svc) == int64(n) })
		return settled()
	}
	g1, h1 := measure(footprintCalls)
	_, m1 := goroutinesBySide()
	s1 := stackBytes()
	writeHeap(footprintCalls)
	io.WriteString(stdin, "more\n")
	g2, h2 := measure(2 * footprintCalls)
	_, m2 := goroutinesBySide()
	s2 := stackBytes()
	if n := inSignalHandler(); n > 0 {
		// the run loop on top of net/http's frames keeps a 16 KB stack
		t.Errorf("%d goroutines of established calls still run in the HTTP handler, want none (runCall)", n)
	}
	writeHeap(2 * footprintCalls)
	stop()
	uas.wait(t, 30*time.Second)
	return footprint{goroutines: float64(g2-g1) / footprintCalls, media: float64(m2-m1) / footprintCalls,
		heapKB: float64(h2-h1) / footprintCalls / 1024, stackKB: float64(s2-s1) / footprintCalls / 1024}
}

// goroutinesBySide counts the goroutines of calls' signalling and the rest.
func goroutinesBySide() (signalling, other int) {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	for _, g := range strings.Split(b.String(), "\n\n") {
		switch {
		case !strings.HasPrefix(g, "goroutine "):
		case strings.Contains(g, "edgebox/gateway.(*Service).handleSignal"), // the run loop, the reader
			strings.Contains(g, "edgebox/gateway.(*clientLink)"):
			signalling++
		default:
			other++
		}
	}
	return signalling, other
}

// inSignalHandler counts goroutines running in handleSignal (a frame of
// it, not only "created by" it).
func inSignalHandler() int {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 2)
	return strings.Count(b.String(), "edgebox/gateway.(*Service).handleSignal(")
}

// settled is the goroutine count and the live heap once the count held
// still for a second: goroutines of a call's set-up (a pion track's
// reader, a lean handshake) end on their own shortly after the media
// started.
func settled() (int, int64) {
	last, still := -1, 0
	for end := time.Now().Add(20 * time.Second); still < 4 && time.Now().Before(end); {
		n := runtime.NumGoroutine()
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
		time.Sleep(250 * time.Millisecond)
	}
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), int64(m.HeapAlloc)
}

// stackBytes is what the goroutines' stacks take (not in the live heap,
// but in the RSS).
func stackBytes() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.StackInuse)
}

// footprintBrowsers is the child process of TestCallFootprint: it places
// footprintCalls calls through the gateway at FOOTPRINT_PORTAL, sends
// some audio on each until it echoes and says "calls up N"; a line on
// stdin has it place as many again; then it holds the calls until its
// stdin closes.
func footprintBrowsers(t *testing.T) {
	base := os.Getenv("FOOTPRINT_PORTAL")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	in := bufio.NewReader(os.Stdin)
	var calls []*client.Call
	callsUp(t, ctx, base, &calls)
	if _, err := in.ReadString('\n'); err != nil {
		return // the parent gave up
	}
	callsUp(t, ctx, base, &calls)
	io.Copy(io.Discard, in)
	for _, c := range calls {
		c.Hangup(ctx)
	}
	for _, c := range calls {
		c.WaitEvent(ctx, gateway.EventEnded)
	}
}

// callsUp places footprintCalls more calls and says how many are up.
func callsUp(t *testing.T, ctx context.Context, base string, calls *[]*client.Call) {
	var more []*client.Call
	for range footprintCalls {
		res, err := clientAuthorizeAt(base, gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
		if err != nil {
			t.Fatalf("authorize: %v", err)
		}
		c, err := client.Dial(ctx, res.WebSocketURL, res.Token, client.Options{LoopbackOnly: true})
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		more = append(more, c)
	}
	for _, c := range more {
		if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			t.Fatal(err)
		}
		c.StartAudio(ctx, 50)
	}
	for _, c := range more {
		waitEchoed(t, c, 10) // media flowed both ways: the call is established
	}
	*calls = append(*calls, more...)
	fmt.Println("calls up " + strconv.Itoa(len(*calls)))
}
