package modem

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// scriptModem answers commands over a net.Pipe with handler(cmd) output.
type scriptModem struct {
	mu      sync.Mutex
	conn    net.Conn
	handler func(cmd string) string
	cmds    []string
}

func newScriptEngine(t *testing.T, handler func(cmd string) string) (*Engine, *scriptModem) {
	t.Helper()
	sm := &scriptModem{handler: handler}
	opened := 0
	open := func() (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		sm.mu.Lock()
		sm.conn = b
		opened++
		sm.mu.Unlock()
		go func() {
			r := bufio.NewReader(b)
			for {
				var sb strings.Builder
				for {
					c, err := r.ReadByte()
					if err != nil {
						return
					}
					sb.WriteByte(c)
					if c == '\r' || c == 0x1a {
						break
					}
				}
				cmd := sb.String()
				cmd = strings.TrimSpace(cmd)
				sm.mu.Lock()
				sm.cmds = append(sm.cmds, cmd)
				sm.mu.Unlock()
				if out := sm.handler(cmd); out != "" {
					io.WriteString(b, out)
				}
			}
		}()
		return a, nil
	}
	e := NewEngine(EngineConfig{Open: open, Timeout: time.Second, ProbeTimeout: 200 * time.Millisecond, RebootWait: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("engine did not stop")
		}
	})
	return e, sm
}

func TestEngineFinalResults(t *testing.T) {
	cases := []struct {
		answer string
		want   error
		lines  int
	}{
		{"\r\nOK\r\n", nil, 0},
		{"\r\n11.608.13.02.00\r\n\r\nOK\r\n", nil, 1},
		{"\r\nERROR\r\n", errError, 0},
		{"\r\nCOMMAND NOT SUPPORT\r\n", errNotSupported, 0},
		{"\r\nTOO MANY PARAMETERS\r\n", errTooManyParams, 0},
		{"\r\nNO CARRIER\r\n", errNoCarrier, 0},
		{"\r\nBUSY\r\n", errBusy, 0},
		{"\r\nNO ANSWER\r\n", errNoAnswer, 0},
		{"\r\nNO DIALTONE\r\n", errNoDialtone, 0},
		{"\r\nCONNECT 3600000\r\n", nil, 0},
	}
	for _, c := range cases {
		e, _ := newScriptEngine(t, func(string) string { return c.answer })
		r, err := e.Command(context.Background(), "AT+X", 0)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%q: err %v, want %v", c.answer, err, c.want)
		}
		if len(r.Lines) != c.lines {
			t.Errorf("%q: lines %q", c.answer, r.Lines)
		}
	}
}

func TestEngineCMEAndCMS(t *testing.T) {
	e, _ := newScriptEngine(t, func(cmd string) string {
		switch cmd {
		case "AT+CPIN?":
			return "\r\n+CME ERROR: 10\r\n"
		case "AT+CMEE2":
			return "\r\n+CME ERROR: SIM PIN required\r\n"
		}
		return "\r\n+CMS ERROR: 321\r\n"
	})
	_, err := e.Command(context.Background(), "AT+CPIN?", 0)
	var cme *CMEError
	if !errors.As(err, &cme) || cme.Code != 10 || cme.Meaning != "SIM not inserted" {
		t.Fatalf("got %v", err)
	}
	_, err = e.Command(context.Background(), "AT+CMEE2", 0)
	if !errors.As(err, &cme) || cme.Code != 11 {
		t.Fatalf("text CME: got %#v", err)
	}
	_, err = e.Command(context.Background(), "AT+CMGR=9", 0)
	var cms *cmsError
	if !errors.As(err, &cms) || cms.Code != 321 || cms.Meaning != "invalid memory index" {
		t.Fatalf("got %v", err)
	}
}

func TestEngineEchoAndURCsInsideResponse(t *testing.T) {
	e, sm := newScriptEngine(t, func(cmd string) string {
		switch cmd {
		case "AT+CREG?":
			// echo on, URC before, inside and right after the answer
			return cmd + "\r\r\n+CREG: 1,\"00C3\",\"0000A13F\",7\r\n\r\n+CREG: 2,1,\"00C3\",\"0000A13F\",7\r\n^RSSI: 18\r\n\r\nOK\r\n\r\n+CMTI: \"SM\",3\r\n"
		case "AT^NDISSTATQRY?":
			return "\r\n^NDISSTAT: 1,,,\"IPV4\"\r\n^NDISSTATQRY: 1,,,\"IPV4\",0,,,\"IPV6\"\r\nRING\r\nOK\r\n"
		}
		return "\r\nOK\r\n"
	})
	urcs, cancel := e.Subscribe(16)
	defer cancel()
	r, err := e.Command(context.Background(), "AT+CREG?", 0)
	if err != nil || len(r.Lines) != 1 || r.Lines[0] != `+CREG: 2,1,"00C3","0000A13F",7` {
		t.Fatalf("CREG: %q %v", r.Lines, err)
	}
	r, err = e.Command(context.Background(), "AT^NDISSTATQRY?", 0)
	if err != nil || len(r.Lines) != 1 {
		t.Fatalf("NDISSTATQRY: %q %v", r.Lines, err)
	}
	want := []string{`+CREG: 1,"00C3","0000A13F",7`, "^RSSI: 18", `+CMTI: "SM",3`, `^NDISSTAT: 1,,,"IPV4"`, "RING"}
	for _, w := range want {
		select {
		case u := <-urcs:
			if u.Line != w {
				t.Errorf("URC %q, want %q", u.Line, w)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("URC %q not delivered", w)
		}
	}
	_ = sm
}

func TestEngineSMSPrompt(t *testing.T) {
	var got string
	var mu sync.Mutex
	e, sm := newScriptEngine(t, nil)
	sm.handler = func(cmd string) string {
		if strings.HasPrefix(cmd, "AT+CMGS=") {
			return "\r\n> "
		}
		if strings.HasSuffix(cmd, "\x1a") {
			mu.Lock()
			got = cmd
			mu.Unlock()
			return "\r\n+CMGS: 7\r\n\r\nOK\r\n"
		}
		return "\r\nOK\r\n"
	}
	r, err := e.CommandPDU(context.Background(), "AT+CMGS=18", "0011000B911326880736F40000A90AE8329BFD4697D9EC37", 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Line("+CMGS:"); !ok || v != "7" {
		t.Fatalf("lines %q", r.Lines)
	}
	mu.Lock()
	defer mu.Unlock()
	if got != "0011000B911326880736F40000A90AE8329BFD4697D9EC37\x1a" {
		t.Fatalf("modem got PDU %q", got)
	}
}

func TestEngineTimeoutThenRecoveryByReopen(t *testing.T) {
	var hang bool
	var mu sync.Mutex
	e, sm := newScriptEngine(t, func(cmd string) string {
		mu.Lock()
		defer mu.Unlock()
		if hang && cmd != "AT" {
			return ""
		}
		return "\r\nOK\r\n"
	})
	mu.Lock()
	hang = true
	mu.Unlock()
	urcs, cancel := e.Subscribe(16)
	defer cancel()
	for i := 0; i < 3; i++ {
		_, err := e.Command(context.Background(), "AT+CSQ", 100*time.Millisecond)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("want timeout, got %v", err)
		}
	}
	select {
	case u := <-urcs:
		if u.Engine != "reopened" {
			t.Fatalf("engine event %+v", u)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no recovery event")
	}
	if e.Faulty() != nil {
		t.Fatal(e.Faulty())
	}
	_ = sm
}

func TestEngineFaultyAfterAllSteps(t *testing.T) {
	slot := 0
	e, _ := newScriptEngine(t, func(cmd string) string { return "" })
	e.cfg.ResetCommand = "AT^RESET"
	e.cfg.SlotReset = func() error { slot++; return nil }
	for i := 0; i < 3; i++ {
		e.Command(context.Background(), "AT+CSQ", 50*time.Millisecond)
	}
	testenv.Until(10*time.Second, "the engine faulty", testenv.Cond(func() bool { return e.Faulty() != nil }))
	if !errors.Is(e.Faulty(), ErrFaulty) {
		t.Fatalf("not faulty: %v", e.Faulty())
	}
	if slot != 1 {
		t.Fatalf("slot reset called %d times", slot)
	}
	if _, err := e.Command(context.Background(), "AT", 0); !errors.Is(err, ErrFaulty) {
		t.Fatalf("command on faulty modem: %v", err)
	}
	if !strings.Contains(e.Faulty().Error(), "slot-reset") {
		t.Fatalf("fault does not say what was tried: %v", e.Faulty())
	}
}

func TestEngineStops(t *testing.T) {
	e, _ := newScriptEngine(t, func(string) string { return "\r\nOK\r\n" })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Command(ctx, "AT", 0); err == nil {
		t.Fatal("command with cancelled context succeeded")
	}
}

func TestEngineRecoveryByVendorReset(t *testing.T) {
	var mu sync.Mutex
	reset := false
	e, _ := newScriptEngine(t, func(cmd string) string {
		mu.Lock()
		defer mu.Unlock()
		if cmd == "AT^RESET" {
			reset = true
			return "\r\nOK\r\n"
		}
		if reset {
			return "\r\nOK\r\n"
		}
		return ""
	})
	e.cfg.ResetCommand = "AT^RESET"
	e.cfg.SlotReset = func() error { t.Error("slot reset used although the vendor reset worked"); return nil }
	urcs, cancel := e.Subscribe(8)
	defer cancel()
	for i := 0; i < 3; i++ {
		e.Command(context.Background(), "AT+CSQ", 50*time.Millisecond)
	}
	select {
	case u := <-urcs:
		if u.Engine != "reset" {
			t.Fatalf("event %+v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no recovery")
	}
	if _, err := e.Command(context.Background(), "AT", 0); err != nil {
		t.Fatal(err)
	}
}

func TestEngineDirectSMSDelivery(t *testing.T) {
	e, sm := newScriptEngine(t, func(string) string { return "\r\nOK\r\n" })
	urcs, cancel := e.Subscribe(8)
	defer cancel()
	if _, err := e.Command(context.Background(), "AT", 0); err != nil {
		t.Fatal(err)
	}
	sm.mu.Lock()
	c := sm.conn
	sm.mu.Unlock()
	io.WriteString(c, "\r\n+CMT: ,23\r\n"+howAreYou+"\r\n\r\nRING\r\n")
	u := <-urcs
	if u.Line != "+CMT: ,23" || u.PDU != howAreYou {
		t.Fatalf("+CMT: %+v", u)
	}
	if u = <-urcs; u.Line != "RING" {
		t.Fatalf("after +CMT: %+v", u)
	}
}

func TestEngineRejectsSmuggledCommands(t *testing.T) {
	e, sm := newScriptEngine(t, func(string) string { return "\r\nOK\r\n" })
	for _, c := range []string{"", "AT\rAT+CFUN=0", "AT+CMGS=5\x1a", "AT\x1b"} {
		if _, err := e.Command(context.Background(), c, 0); err == nil {
			t.Errorf("%q accepted", c)
		}
	}
	if _, err := e.CommandPDU(context.Background(), "AT+CMGS=5", "00ZZ", 0); err == nil {
		t.Error("non-hex PDU accepted")
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if len(sm.cmds) != 0 {
		t.Fatalf("modem received %q", sm.cmds)
	}
}

func TestEngineBootURCFailsPendingCommand(t *testing.T) {
	e, _ := newScriptEngine(t, func(cmd string) string {
		if cmd == "AT+CMGF=0" {
			return "\r\n^SYSSTART\r\n" // the command was lost in the reboot
		}
		return "\r\nOK\r\n"
	})
	urcs, cancel := e.Subscribe(4)
	defer cancel()
	start := time.Now()
	_, err := e.Command(context.Background(), "AT+CMGF=0", 5*time.Second)
	if !errors.Is(err, ErrRebooted) || time.Since(start) > 2*time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
	if u := <-urcs; u.Line != "^SYSSTART" {
		t.Fatalf("boot URC not delivered: %+v", u)
	}
	// *EMRDY: 1 as the answer to the query is not a reboot.
	e2, _ := newScriptEngine(t, func(string) string { return "\r\n*EMRDY: 1\r\n\r\nOK\r\n" })
	if r, err := e2.Command(context.Background(), "AT*EMRDY?", 0); err != nil || len(r.Lines) != 1 {
		t.Fatalf("query: %q %v", r.Lines, err)
	}
}
