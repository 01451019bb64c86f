package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// rsyslogConf has Debian's rsyslogd listen on 127.0.0.1:port (UDP or
// TCP: imudp or imtcp, %[3]s) and write what it parsed of every message
// as one JSON object a line: the collector's view of host, app, severity
// and structured data.
const rsyslogConf = `global(workDirectory="%[1]s")
module(load="im%[3]s")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="protocol" name="protocol-version" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="box") {
  action(type="omfile" file="%[1]s/box.log" template="fields")
}
input(type="im%[3]s" address="127.0.0.1" port="%[2]d" ruleset="box")
`

// collected is one line as rsyslog parsed it.
type collected struct {
	Host, App, Facility, Severity, Protocol, SD, Msg string
}

// startRsyslog runs rsyslogd in the foreground with its own config in a
// temporary directory, listening on UDP; the test stops it. It returns
// the address and the file the parsed messages go to.
func startRsyslog(t *testing.T) (addr, out string) {
	t.Helper()
	r := runRsyslog(t, "udp", t.TempDir(), 0)
	return r.addr, r.out
}

// rsyslog is one run of rsyslogd.
type rsyslog struct {
	addr, out string
	stop      func()
}

// runRsyslog starts rsyslogd listening on transport ("udp" or "tcp") at
// 127.0.0.1:port (0: a free one), writing to dir/box.log; the test stops
// it if stop was not called before.
func runRsyslog(t *testing.T, transport, dir string, port int) rsyslog {
	t.Helper()
	bin, err := exec.LookPath("rsyslogd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/rsyslogd"); err2 != nil {
			t.Fatalf("rsyslogd not installed (Debian package rsyslog; run make deps): %v", err)
		}
		bin = "/usr/sbin/rsyslogd"
	}
	if port == 0 {
		// Taken and given back; rsyslogd binds it next.
		port = testenv.FreePort(t)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(rsyslogConf, dir, port, transport)), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(bin, "-N1", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 refused the config: %v\n%s", err, b)
	}
	cmd := exec.Command(bin, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("rsyslogd output:\n%s", stderr.String())
			}
		})
	}
	t.Cleanup(stop)
	return rsyslog{addr: fmt.Sprintf("127.0.0.1:%d", port), out: filepath.Join(dir, "box.log"), stop: stop}
}

// readCollected reads what rsyslog wrote so far.
func readCollected(t *testing.T, path string) []collected {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var l []collected
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c collected
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("rsyslog wrote a line that is not JSON: %v: %q", err, sc.Text())
		}
		l = append(l, c)
	}
	return l
}

// TestRemoteLogToRsyslog sends a box's service lines to Debian's rsyslog, a
// real collector, and checks what it parsed: the box's host name, the
// service as app name, the severity from slog's level, facility daemon, and
// structured data.
func TestRemoteLogToRsyslog(t *testing.T) {
	addr, out := startRsyslog(t)
	r := newRemoteLog("edgebox-abc123")
	if err := r.SetTarget(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.SetTarget("") })
	// rsyslogd gives no sign when it listens: send a probe line until one
	// arrives (UDP lines sent before are lost, as they would be on a box).
	testenv.WaitFor(t, 30*time.Second, "rsyslogd receiving a probe line", testenv.Cond(func() bool {
		r.Line("init", "probe")
		return len(readCollected(t, out)) > 0
	}))
	sent := []struct{ app, text, severity string }{
		{"netctl", `time=2026-12-07T03:00:00Z level=ERROR msg="dhcp failed" uplink=wan`, "3"},
		{"gateway", `time=2026-12-07T03:00:01Z level=WARN msg="trunk unregistered"`, "4"},
		{"web", `time=2026-12-07T03:00:02Z level=INFO msg="admin logged in" from=10.8.0.2`, "6"},
		{"netctl", `time=2026-12-07T03:00:03Z level=DEBUG msg="probe ok"`, "7"},
		{"openvpn", "Initialization Sequence Completed", "6"},
	}
	for _, s := range sent {
		r.Line(s.app, s.text)
	}
	var got []collected
	testenv.Until(30*time.Second, "every line parsed", testenv.Cond(func() bool {
		got = nil
		for _, c := range readCollected(t, out) {
			if c.Msg != "probe" {
				got = append(got, c)
			}
		}
		return len(got) >= len(sent)
	}))
	if len(got) != len(sent) {
		t.Fatalf("rsyslog parsed %d of %d lines: %+v", len(got), len(sent), got)
	}
	first := 0
	for i, s := range sent {
		c := got[i]
		if c.Host != "edgebox-abc123" || c.App != s.app || c.Severity != s.severity || c.Facility != "3" || c.Protocol != "1" || c.Msg != s.text {
			t.Errorf("line %d: rsyslog parsed %+v; sent app %s severity %s text %q", i, c, s.app, s.severity, s.text)
		}
		// meta sequenceId (RFC 5424 7.3.1) numbers the lines: a gap at
		// the collector shows lines lost on the way (UDP) or dropped by
		// a full queue on the box.
		sd := parseSD(t, c.SD)
		seq, err := strconv.Atoi(sd["meta"]["sequenceId"])
		if err != nil || seq < 1 {
			t.Errorf("line %d: structured data %q has no meta sequenceId", i, c.SD)
			continue
		}
		if i == 0 {
			first = seq
		} else if seq != first+i {
			t.Errorf("line %d: sequenceId %d, want %d (consecutive)", i, seq, first+i)
		}
	}
}

// parseSD parses RFC 5424 structured data ("-" or [id k="v" ...]...) into
// id -> param -> value.
func parseSD(t *testing.T, s string) map[string]map[string]string {
	t.Helper()
	m := map[string]map[string]string{}
	if s == "-" {
		return m
	}
	for s != "" {
		if s[0] != '[' {
			t.Fatalf("structured data %q: element does not start with [", s)
		}
		end := -1
		for i, esc := 1, false; i < len(s); i++ {
			switch {
			case esc:
				esc = false
			case s[i] == '\\':
				esc = true
			case s[i] == ']':
				end = i
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			t.Fatalf("structured data %q: no closing ]", s)
		}
		elem := s[1:end]
		s = s[end+1:]
		id, rest, _ := strings.Cut(elem, " ")
		params := map[string]string{}
		for rest != "" {
			k, v, ok := strings.Cut(rest, `="`)
			if !ok {
				t.Fatalf("structured data element %q: parameter without =\"", elem)
			}
			var val strings.Builder
			i := 0
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				val.WriteByte(v[i])
			}
			if i >= len(v) {
				t.Fatalf("structured data element %q: unterminated value", elem)
			}
			params[strings.TrimSpace(k)] = val.String()
			rest = strings.TrimSpace(v[i+1:])
		}
		m[id] = params
	}
	return m
}

// TestRemoteLogTCPToRsyslogRestarted sends a box's lines over TCP to
// Debian's rsyslog (imtcp, octet-counted frames), which is stopped while
// lines keep coming and started again on the same address: it parses
// every line as sent (host, app, severity, message), and no sequenceId
// is missing; a line may come twice.
func TestRemoteLogTCPToRsyslogRestarted(t *testing.T) {
	dir := t.TempDir()
	rs := runRsyslog(t, "tcp", dir, 0)
	r := newRemoteLog("edgebox-abc123")
	t.Cleanup(func() { r.Close(0) })
	if err := r.SetTarget("tcp://" + rs.addr); err != nil {
		t.Fatal(err)
	}
	n := 0
	say := func(k int) {
		for range k {
			n++
			r.Line("netctl", fmt.Sprintf(`time=2026-12-07T03:00:00Z level=WARN msg="line %d" uplink=wan`, n))
		}
	}
	seqs := func() (map[int]bool, []collected) {
		got := readCollected(t, rs.out)
		seen := map[int]bool{}
		for _, c := range got {
			if s, err := strconv.Atoi(parseSD(t, c.SD)["meta"]["sequenceId"]); err == nil {
				seen[s] = true
			}
		}
		return seen, got
	}
	say(20)
	testenv.WaitFor(t, 30*time.Second, "rsyslogd parsing the first lines", testenv.Cond(func() bool { s, _ := seqs(); return len(s) >= 20 }))
	rs.stop()
	say(20)
	time.Sleep(500 * time.Millisecond) // refused connects meanwhile
	say(20)
	rs = runRsyslog(t, "tcp", dir, mustPort(t, rs.addr))
	say(20)
	testenv.WaitFor(t, 60*time.Second, "every line at the restarted rsyslogd", testenv.Cond(func() bool {
		s, _ := seqs()
		return len(missing(s, n)) == 0
	}))
	_, got := seqs()
	for _, c := range got {
		if c.Host != "edgebox-abc123" || c.App != "netctl" || c.Severity != "4" || c.Facility != "3" || c.Protocol != "1" || !strings.HasPrefix(c.Msg, `time=2026-12-07T03:00:00Z level=WARN msg="line `) {
			t.Errorf("rsyslog parsed %+v", c)
		}
	}
	t.Logf("%d lines sent, %d parsed (duplicates: resent after the restart)", n, len(got))
}

func mustPort(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
