package modemsim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgebox/internal/testenv"
	"edgebox/modem"
)

// engineOn starts a modem.Engine on a pty served by a new Sim.
func engineOn(t *testing.T, cfg Config) (*Sim, *modem.Engine) {
	t.Helper()
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	path, wait, err := sim.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := modem.NewEngine(modem.EngineConfig{Open: func() (io.ReadWriteCloser, error) { return modem.OpenSerial(path, 0) }, Timeout: 2 * time.Second})
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		wait()
	})
	return sim, e
}

func TestPTYEchoAndBasics(t *testing.T) {
	sim, e := engineOn(t, Config{Profile: "huawei-mu609"})
	ctx := context.Background()
	r, err := e.Command(ctx, "AT+CGMM", 0)
	if err != nil || len(r.Lines) != 1 || r.Lines[0] != "MU609" {
		t.Fatalf("CGMM: %q %v", r.Lines, err)
	}
	if !sim.State().Echo {
		t.Fatal("echo should be on after power-on")
	}
	if _, err := e.Command(ctx, "ATE0", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Command(ctx, "AT^FOO", 0); err == nil || !strings.Contains(err.Error(), "COMMAND NOT SUPPORT") {
		t.Fatalf("unsupported: %v", err)
	}
}

// QEMU's -chardev socket connects, the guest reboots (disconnect), and
// connects again: the modem keeps its state and answers each session.
func TestListenReconnect(t *testing.T) {
	sim, err := New(Config{Profile: "huawei-me909s", ConnectDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "modem.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeListener(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Error(err)
		}
	}()
	session := func(cmds ...string) []modem.Response {
		e := modem.NewEngine(modem.EngineConfig{Open: func() (io.ReadWriteCloser, error) { return net.Dial("unix", sock) }, Timeout: 2 * time.Second})
		ectx, ecancel := context.WithCancel(ctx)
		edone := make(chan error, 1)
		go func() { edone <- e.Run(ectx) }()
		defer func() { ecancel(); <-edone }()
		var out []modem.Response
		for _, c := range cmds {
			r, err := e.Command(ectx, c, 0)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			out = append(out, r)
		}
		return out
	}
	session("ATE0", "AT+CMEE=1", `AT^NDISDUP=1,1,"internet"`)
	testenv.Until(3*time.Second, "the link up", testenv.Cond(func() bool { return sim.State().Link == 1 }))
	for i := 0; i < 3; i++ { // guest reboots
		r := session("AT^NDISSTATQRY?")
		if len(r[0].Lines) != 1 || !strings.HasPrefix(r[0].Lines[0], "^NDISSTATQRY: 1,") {
			t.Fatalf("reconnect %d: %q", i, r[0].Lines)
		}
	}
	testenv.Until(3*time.Second, "the sessions ended", testenv.Cond(func() bool { return sim.State().Sessions == 0 }))
	if n := sim.State().Sessions; n != 0 {
		t.Fatalf("%d sessions left after clients went away", n)
	}
}

func TestControlSocket(t *testing.T) {
	sim, err := New(Config{Profile: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeControl(ctx, ln) }()
	defer func() { cancel(); <-done }()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	ask := func(cmd string) string {
		fmt.Fprintln(c, cmd)
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(l)
	}
	for _, c := range [][2]string{
		{"reg denied", "OK"},
		{"sim remove", "OK"},
		{"sms +4912345 hi", "ERROR no SIM"},
		{"sim insert", "OK"},
		{"pin require 1234", "OK"},
		{"hang maybe", "ERROR hang: want on or off"},
		{"frobnicate", `ERROR unknown control command "frobnicate" (try help)`},
		{"garbage 10", "OK"},
		{"urc +CREG: 1", "OK"},
		{"smslong +49123 10", "OK [0]"},
	} {
		if got := ask(c[0]); got != c[1] {
			t.Errorf("%s: %q, want %q", c[0], got, c[1])
		}
	}
	st := ask("state")
	if !strings.HasPrefix(st, "OK {") || !strings.Contains(st, `"reg":0`) || !strings.Contains(st, `"sim_locked":true`) {
		t.Fatalf("state: %s", st)
	}
}
