package main

import (
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// tcpCollector is testenv's TCP syslog collector, its messages read by
// got (a frame that did not parse fails the test).
type tcpCollector struct {
	*testenv.SyslogTCP
	t *testing.T
}

func newTCPCollector(t *testing.T, ln net.Listener) *tcpCollector {
	return &tcpCollector{SyslogTCP: testenv.NewSyslogTCP(t, ln, nil), t: t}
}

func (c *tcpCollector) got() []string {
	msgs, err := c.Messages()
	if err != nil {
		c.t.Error(err)
	}
	return msgs
}

// lineSayer returns say(k), which has r forward k more numbered lines of
// netctl, and the count so far.
func lineSayer(r *remoteLog) (say func(k int), said func() int) {
	n := 0
	return func(k int) {
			for range k {
				n++
				r.Line("netctl", fmt.Sprintf("level=INFO msg=line n=%d", n))
			}
		}, func() int {
			return n
		}
}

// seqsOf is the set of meta sequenceIds in msgs.
func seqsOf(msgs ...[]string) map[int]bool {
	seen := map[int]bool{}
	for _, l := range msgs {
		for _, m := range l {
			if _, rest, ok := strings.Cut(m, `sequenceId="`); ok {
				if n, err := strconv.Atoi(rest[:strings.IndexByte(rest, '"')]); err == nil {
					seen[n] = true
				}
			}
		}
	}
	return seen
}

// missing lists the sequenceIds 1..n not seen.
func missing(seen map[int]bool, n int) []int {
	var out []int
	for i := 1; i <= n; i++ {
		if !seen[i] {
			out = append(out, i)
		}
	}
	return out
}

func listenLocal(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// Over TCP the lines arrive octet-counted, whole and in order, and the
// boot's lines said before the collector listened arrive too.
func TestRemoteLogTCPForwards(t *testing.T) {
	addr := testenv.FreeAddr(t)
	r := newRemoteLog("edgebox-abc123")
	t.Cleanup(func() { r.Close(0) })
	if err := r.SetTarget("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	r.Line("netctl", `level=ERROR msg="said before the collector listens"`)
	time.Sleep(100 * time.Millisecond) // a refused connect or two
	col := newTCPCollector(t, listenLocal(t, addr))
	r.Line("web", "with a space and\nа newline, ünicode")
	var got []string
	testenv.WaitFor(t, 30*time.Second, "both lines at the collector", testenv.Cond(func() bool { got = col.got(); return len(got) >= 2 }))
	if len(got) != 2 || !strings.HasPrefix(got[0], "<27>1 ") || !strings.Contains(got[0], ` edgebox-abc123 netctl - - [meta sequenceId="1"] level=ERROR msg="said before`) ||
		!strings.HasSuffix(got[1], "] with a space and\nа newline, ünicode") {
		t.Fatalf("collector got %q", got)
	}
	// A value that does not read is refused and leaves forwarding as it was.
	for _, bad := range []string{"tcp://" + addr + "/x", "tls://" + addr, "tcp://user@" + addr, "tcp://" + addr + "\n"} {
		if err := r.SetTarget(bad); err == nil || !strings.Contains(err.Error(), "remote syslog: ") {
			t.Errorf("SetTarget(%q) = %v, want a remote syslog error", bad, err)
		}
	}
	r.Line("web", "still forwarded")
	testenv.WaitFor(t, 30*time.Second, "the line after the refused values", testenv.Cond(func() bool { return len(col.got()) >= 3 }))
}

// The collector goes away (it dies with lines its TCP acknowledged but it
// did not store) and comes back on the same address while lines keep
// coming: every line arrives, some twice (duplicates rather than gaps).
func TestRemoteLogTCPCollectorRestarted(t *testing.T) {
	addr := testenv.FreeAddr(t)
	col1 := newTCPCollector(t, listenLocal(t, addr))
	r := newRemoteLog("box")
	t.Cleanup(func() { r.Close(0) })
	if err := r.SetTarget("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	say, said := lineSayer(r)
	say(100)
	testenv.WaitFor(t, 30*time.Second, "the first 100 lines", testenv.Cond(func() bool { return len(col1.got()) >= 100 }))
	// The collector's TCP acknowledges what it is sent, but it dies
	// before storing it: the box resends what it wrote in the last
	// seconds before the connection broke.
	col1.Deafen()
	say(50)
	time.Sleep(300 * time.Millisecond)
	col1.Stop()
	say(50)
	time.Sleep(300 * time.Millisecond)
	say(50)
	col2 := newTCPCollector(t, listenLocal(t, addr))
	say(50)
	testenv.WaitFor(t, 60*time.Second, "every line at one of the two collectors", testenv.Cond(func() bool {
		return len(missing(seqsOf(col1.got(), col2.got()), said())) == 0
	}))
	if lost := missing(seqsOf(col1.got(), col2.got()), said()); len(lost) > 0 {
		t.Fatalf("lines lost across the restart: %v", lost)
	}
}

// A flood of lines while the collector is unreachable: the queue stays in
// its bounds, and the first line through says how many were dropped.
func TestRemoteLogQueueBoundUnderFlood(t *testing.T) {
	addr := testenv.FreeAddr(t)
	r := newRemoteLog("box")
	t.Cleanup(func() { r.Close(0) })
	if err := r.SetTarget("tcp://" + addr); err != nil {
		t.Fatal(err)
	}
	q := r.queue.Load()
	long := strings.Repeat("x", 1000)
	const flood = 20000
	for i := range flood {
		r.Line("gateway", fmt.Sprintf("level=INFO n=%d %s", i, long))
		if i%1000 == 0 {
			q.mu.Lock()
			lines, bytes := len(q.lines), q.bytes
			q.mu.Unlock()
			if lines > queueMaxLines || bytes > queueMaxBytes {
				t.Fatalf("after %d lines the queue holds %d lines, %d bytes (bounds %d, %d)", i, lines, bytes, queueMaxLines, queueMaxBytes)
			}
		}
	}
	lines, _, dropped := q.state()
	if dropped == 0 || lines+dropped != flood {
		t.Fatalf("queue %d lines, %d dropped, of %d", lines, dropped, flood)
	}
	col := newTCPCollector(t, listenLocal(t, addr))
	var got []string
	last := fmt.Sprintf(`sequenceId="%d"`, flood)
	testenv.WaitFor(t, 60*time.Second, "the queue at the collector", testenv.Cond(func() bool {
		got = col.got()
		return len(got) > 0 && strings.Contains(got[len(got)-1], last)
	}))
	// The notice took the room of one more line.
	dropped++
	want := fmt.Sprintf(`box init - - [meta sequenceId="%d"] level=WARN msg="remote syslog: queue full, oldest lines dropped" dropped=%d`, flood+1, dropped)
	if !strings.Contains(got[0], want) || !strings.HasPrefix(got[0], "<28>1 ") {
		t.Fatalf("first line %.200q, want the notice %q", got[0], want)
	}
	if !strings.Contains(got[1], fmt.Sprintf("sequenceId=\"%d\"", dropped+1)) || len(got) != 1+flood-dropped {
		t.Fatalf("%d lines, the second %.100q: want the notice and lines %d to %d", len(got), got[1], dropped+1, flood)
	}
}

// Turning forwarding off, or moving it, ends the sender's goroutines,
// even one waiting on a connect that goes nowhere.
func TestRemoteLogTCPStops(t *testing.T) {
	before := runtime.NumGoroutine()
	addr := testenv.FreeAddr(t)
	col := newTCPCollector(t, listenLocal(t, addr))
	r := newRemoteLog("box")
	r.SetTarget("tcp://" + addr)
	r.Line("web", "one")
	testenv.WaitFor(t, 30*time.Second, "the line", testenv.Cond(func() bool { return len(col.got()) == 1 }))
	r.SetTarget("tcp://" + testenv.FreeAddr(t)) // refused: redialling
	r.Line("web", "two")
	r.SetTarget("")
	r.Line("web", "not sent: off")
	col.Stop()
	testenv.WaitFor(t, 10*time.Second, "the goroutines gone", testenv.Cond(func() bool { return runtime.NumGoroutine() <= before }))
}

// Close sends what is queued before it returns (the lines of a shutdown).
func TestRemoteLogTCPCloseFlushes(t *testing.T) {
	addr := testenv.FreeAddr(t)
	r := newRemoteLog("box")
	r.SetTarget("tcp://" + addr)
	for i := range 50 {
		r.Line("init", fmt.Sprintf("shutting down %d", i))
	}
	col := newTCPCollector(t, listenLocal(t, addr))
	r.Close(10 * time.Second)
	testenv.WaitFor(t, 10*time.Second, "the queued lines", testenv.Cond(func() bool { return len(col.got()) >= 50 }))
}
