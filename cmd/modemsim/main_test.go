package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type lineWriter struct{ ch chan string }

func (w lineWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		w.ch <- l
	}
	return len(b), nil
}

// The `make run` mode: --listen for QEMU's chardev plus --control.
func TestListenAndControl(t *testing.T) {
	dir := t.TempDir()
	sock, ctl := filepath.Join(dir, "modem.sock"), filepath.Join(dir, "ctl.sock")
	ctx, cancel := context.WithCancel(context.Background())
	out := lineWriter{make(chan string, 4)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--profile", "huawei-me909s", "--listen", sock, "--control", ctl}, out)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(5 * time.Second):
			t.Error("modemsim did not stop")
		}
	}()
	select {
	case l := <-out.ch:
		if l != sock {
			t.Fatalf("printed %q", l)
		}
	case err := <-done:
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // connect, disconnect, reconnect
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(c, "AT+CGMM\r")
		got, _ := readUntil(c, "OK")
		if !strings.Contains(got, "ME909s-120") {
			t.Fatalf("session %d: %q", i, got)
		}
		c.Close()
	}
	c, err := net.Dial("unix", ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "reg roaming")
	l, _ := bufio.NewReader(c).ReadString('\n')
	if strings.TrimSpace(l) != "OK" {
		t.Fatalf("control: %q", l)
	}
}

func TestPTYMode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := lineWriter{make(chan string, 4)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--profile", "dell-dw5550", "--pty"}, out) }()
	defer func() { cancel(); <-done }()
	var path string
	select {
	case path = <-out.ch:
	case err := <-done:
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, "/dev/pts/") {
		t.Fatalf("printed %q", path)
	}
}

// --ptys 2: the AT port and the data port of one modem; a PPP call on the
// data port leaves the AT port answering.
func TestPTYsOfOneModem(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := lineWriter{make(chan string, 4)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--profile", "sierra-mc8775", "--pty", "--ptys", "2", "--ppp-peer", "/bin/cat"}, out)
	}()
	defer func() { cancel(); <-done }()
	var paths []string
	for len(paths) < 2 {
		select {
		case p := <-out.ch:
			paths = append(paths, p)
		case err := <-done:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatal("paths not printed")
		}
	}
	if paths[0] == paths[1] || !strings.HasPrefix(paths[1], "/dev/pts/") {
		t.Fatalf("printed %q", paths)
	}
	at, err := os.OpenFile(paths[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer at.Close()
	data, err := os.OpenFile(paths[1], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	step := func(f *os.File, send, want string) {
		t.Helper()
		f.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := f.WriteString(send); err != nil {
			t.Fatal(err)
		}
		if got, err := readUntil(f, want); err != nil {
			t.Fatalf("%q: got %q: %v", send, got, err)
		}
	}
	step(data, "ATD*99***1#\r", "CONNECT")
	step(data, "frame\n", "frame")
	step(at, "AT+CSQ\r", "OK")
}

func TestBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--profile", "nokia-3310", "--pty"}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown profile") {
		t.Fatalf("got %v", err)
	}
	if err := run(context.Background(), nil, io.Discard); err == nil {
		t.Fatal("no mode accepted")
	}
	if err := run(context.Background(), []string{"--pty", "--ptys", "0"}, io.Discard); err == nil {
		t.Fatal("--ptys 0 accepted")
	}
}

func readUntil(r io.Reader, want string) (string, error) {
	var b strings.Builder
	buf := make([]byte, 256)
	for !strings.Contains(b.String(), want) {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String(), err
		}
	}
	return b.String(), nil
}

func TestPPPPeerArgv(t *testing.T) {
	got := strings.Join(PPPPeerArgv("", "carrier-1", "10.66.0.1", "10.66.0.2", "10.66.0.53, 10.66.0.54"), " ")
	want := "ip netns exec carrier-1 /usr/sbin/pppd notty nodetach noauth local nocrtscts passive 10.66.0.1:10.66.0.2 nodefaultroute novj nobsdcomp nodeflate noccp lcp-echo-interval 5 lcp-echo-failure 3 ms-dns 10.66.0.53 ms-dns 10.66.0.54"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := strings.Join(PPPPeerArgv("/bin/cat -u", "", "", "", ""), " "); got != "/bin/cat -u" {
		t.Errorf("custom peer: %s", got)
	}
}

// --ppp-peer over --listen: a dial runs the peer on the session's bytes.
func TestPPPPeerFlag(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "modem.sock")
	ctx, cancel := context.WithCancel(context.Background())
	out := lineWriter{make(chan string, 4)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--profile", "sierra-mc8775", "--listen", sock, "--ppp-peer", "/usr/bin/head -n 1"}, out)
	}()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-out.ch:
	case err := <-done:
		t.Fatal(err)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	time.Sleep(300 * time.Millisecond) // boot
	fmt.Fprint(c, "ATD*99***1#\r")
	if got, err := readUntil(c, "CONNECT"); err != nil {
		t.Fatalf("%q %v", got, err)
	}
	fmt.Fprint(c, "through the peer\n")
	if got, err := readUntil(c, "NO CARRIER"); err != nil || !strings.Contains(got, "through the peer") {
		t.Fatalf("%q %v", got, err)
	}
}
