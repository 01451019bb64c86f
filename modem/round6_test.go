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
)

// TestPortGoneLateSaidOnNextCommand: the card's port fails to read but
// its node goes only later (the kernel unregisters the tty after the
// engine's checks at the read failure, as under load). The next command,
// finding no port to open, says the card was removed (ErrRemoved and the
// "removed" event). Before, it failed as "write: open modem port: ... no
// such file", which netctl showed as "the registration could not be
// read: ..." before the removal, and counted towards recovery.
func TestPortGoneLateSaidOnNextCommand(t *testing.T) {
	var mu sync.Mutex
	present, nodeThere := true, true
	var card net.Conn
	open := func() (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if !present {
			return nil, errors.New("open /dev/ttyUSB2: no such file or directory")
		}
		a, b := net.Pipe()
		card = b
		go func() {
			r := bufio.NewReader(b)
			for {
				l, err := r.ReadString('\r')
				if err != nil {
					return
				}
				if strings.TrimSpace(l) != "" {
					io.WriteString(b, "\r\nOK\r\n")
				}
			}
		}()
		return a, nil
	}
	e := NewEngine(EngineConfig{Open: open, Timeout: 300 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond,
		RebootWait: time.Minute, Gone: func() bool { mu.Lock(); defer mu.Unlock(); return !nodeThere }})
	ctx := runEngine(t, e)
	urcs, unsub := e.Subscribe(64)
	defer unsub()
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	present = false
	card.Close()
	mu.Unlock()
	// The read failure's checks see the node still there.
	time.Sleep(removedPolls*removedPollStep + 300*time.Millisecond)
	mu.Lock()
	nodeThere = false
	mu.Unlock()

	if _, err := e.Command(ctx, "AT+CREG?", 0); !errors.Is(err, ErrRemoved) {
		t.Errorf("a command once the node is gone: %v, want ErrRemoved", err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case u := <-urcs:
			if u.Engine == "removed" {
				return
			}
		case <-deadline:
			t.Fatal("no engine event \"removed\"")
		}
	}
}

// rawRepliesPort is a card on a pipe that writes replies[cmd] (raw bytes,
// line ends included) to each command line it reads.
func rawRepliesPort(replies map[string]string) func() (io.ReadWriteCloser, error) {
	return func() (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		go func() {
			r := bufio.NewReader(b)
			for {
				l, err := r.ReadString('\r')
				if err != nil {
					return
				}
				l = strings.TrimSpace(l)
				if l == "" {
					continue
				}
				out, ok := replies[l]
				if !ok {
					out = "\r\nOK\r\n"
				}
				io.WriteString(b, out)
			}
		}()
		return a, nil
	}
}

// TestOddlyWordedAnswers: cards that pad their answers with NULs or line
// noise (0xFF, a control byte), answer in lower case, or send a data
// line longer than the reader's buffer.
// Each command gets its answer, none times out. Before, a line holding a
// NUL (or any control byte) was dropped whole, so "OK\x00" never ended
// its command (a timeout, then recovery's resets of a working card), and
// "ok" was no final result.
func TestOddlyWordedAnswers(t *testing.T) {
	long := strings.Repeat("A", 9000)
	e := NewEngine(EngineConfig{Open: rawRepliesPort(map[string]string{
		"AT+CSQ":   "\r\n+CSQ: 20,99\x00\r\n\r\nOK\x00\x00\r\n",
		"AT+CGMI":  "\x00\x00\r\nhuawei\r\n\r\nok\r\n",
		"AT+CPIN?": "\r\n+cpin: READY\r\n\r\nok\r\n",
		"AT+CREG?": "\r\n\x00+CREG: 0,1\r\n\r\n\x00OK\r\n",
		"AT+CGSN":  "\r\n" + long + "\r\n\r\nOK\r\n",
		"AT+CFUN?": "\r\n+CFUN: 1\r\n\r\nerror\r\n",
		"AT+CGMM":  "\r\n\xffME909s-120\x1a\r\n\r\nOK\xff\r\n",
	}), Timeout: 500 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond, RebootWait: time.Minute})
	ctx := runEngine(t, e)

	want := map[string]string{"AT+CSQ": "+CSQ: 20,99", "AT+CGMI": "huawei", "AT+CPIN?": "+cpin: READY", "AT+CREG?": "+CREG: 0,1"}
	for _, cmd := range []string{"AT+CSQ", "AT+CGMI", "AT+CPIN?", "AT+CREG?"} {
		r, err := e.Command(ctx, cmd, 0)
		if err != nil {
			t.Errorf("%s: %v", cmd, err)
			continue
		}
		if len(r.Lines) != 1 || r.Lines[0] != want[cmd] {
			t.Errorf("%s: lines %q, want %q", cmd, r.Lines, want[cmd])
		}
	}
	if r, err := e.Command(ctx, "AT+CGSN", 0); err != nil || strings.Join(r.Lines, "") != long {
		t.Errorf("a 9000-byte line: %d lines, %v", len(r.Lines), err)
	}
	if r, err := e.Command(ctx, "AT+CGMM", 0); err != nil || len(r.Lines) != 1 || r.Lines[0] != "ME909s-120" {
		t.Errorf("noise bytes at the ends of the lines: %q, %v", r.Lines, err)
	}
	if _, err := e.Command(ctx, "AT+CFUN?", 0); !errors.Is(err, errError) {
		t.Errorf("lower-case error: %v, want ERROR", err)
	}
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Errorf("AT after them: %v", err)
	}
}

// TestErrorTextForms: +CME ERROR worded as the 27.007 table does not
// (case, a full stop, later 27.007 or firmware words), a code with its
// words after it, and no colon, still give the code the box acts on (a
// wrong PIN, a missing SIM). Before, each was code -1 (unknown), or no
// final result at all (a timeout).
func TestErrorTextForms(t *testing.T) {
	for line, want := range map[string]int{
		"+CME ERROR: SIM not inserted":                           10,
		"+CME ERROR: SIM NOT INSERTED.":                          10,
		"+CME ERROR: sim_not_inserted":                           10,
		"+CME ERROR: SIM not present":                            10,
		"+CME ERROR: 10 SIM not inserted":                        10,
		"+CME ERROR: 16,\"incorrect password\"":                  16,
		"+CME ERROR: Incorrect PIN":                              16,
		"+CME ERROR 16":                                          16,
		"+CME ERROR:14":                                          14,
		"+cme error: sim busy":                                   14,
		"+CME ERROR: network not allowed – emergency calls only": 32,
		"+CME ERROR: user authentication failed":                 149,
		"+CME ERROR: something new":                              -1,
	} {
		final, err := FinalResult(line)
		var c *CMEError
		if !final || !errors.As(err, &c) || c.Code != want {
			t.Errorf("%q: final %v, %v; want code %d", line, final, err, want)
		}
	}
	if final, _ := FinalResult("+CME ERRORS are words"); final {
		t.Errorf("a line that only starts like +CME ERROR taken for one")
	}
}

// TestIdentityPastUnknownURCs: a URC the box does not know (a time zone
// report, a boot word) arrives before the answer of a command that
// answers a bare line: the identity is still the card's. Before, the
// first line was taken: the manufacturer read "SMS DONE" and the IMEI
// "^TIME: ..." failed the identity (the card could not be set up).
func TestIdentityPastUnknownURCs(t *testing.T) {
	port := rawRepliesPort(map[string]string{
		"AT+CGMI": "\r\nSMS DONE\r\n\r\nQuectel\r\n\r\nOK\r\n",
		"AT+CGMM": "\r\n+CTZDST: 0\r\n\r\nEC25\r\n\r\nOK\r\n",
		"AT+CGSN": "\r\n^TIME: 26/12/08,01:00:00+4\r\n\r\n867223020123456\r\n\r\nOK\r\n",
		"AT+CIMI": "\r\n^ZTIME: 4\r\n\r\n262011234567890\r\n\r\nOK\r\n",
	})
	m, err := Open(context.Background(), Options{Device: Device{Port: "scripted", Profile: "generic"}, CommandTimeout: time.Second,
		OpenPort: port})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	id, err := m.Identity(context.Background())
	if err != nil || id.Manufacturer != "Quectel" || id.Model != "EC25" || id.IMEI != "867223020123456" || id.IMSI != "262011234567890" {
		t.Errorf("identity %+v, %v", id, err)
	}
}

// TestDataAfterItsOK: a card that answers OK before the data line
// ("OK", then "+CSQ: 20,99", or a bare IMEI): the command still gets its
// line, and the next command its own answer. Before, the line came after
// the command ended, was taken for a URC and dropped: every signal poll
// failed, and an IMEI after its OK failed the identity.
func TestDataAfterItsOK(t *testing.T) {
	e := NewEngine(EngineConfig{Open: rawRepliesPort(map[string]string{
		"AT+CSQ":   "\r\nOK\r\n\r\n+CSQ: 20,99\r\n",
		"AT+CREG?": "\r\nOK\r\n+CREG: 2,1,\"00C3\",\"0000A13F\",7\r\n",
		"AT+CGMI":  "\r\nQuectel\r\n\r\nOK\r\n",
		"AT+CGSN":  "\r\nOK\r\n\r\n867223020123456\r\n",
	}), Timeout: 500 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond, RebootWait: time.Minute})
	ctx := runEngine(t, e)
	for cmd, want := range map[string]string{"AT+CSQ": "+CSQ: 20,99", "AT+CREG?": "+CREG: 2,1,\"00C3\",\"0000A13F\",7", "AT+CGMI": "Quectel", "AT+CGSN": "867223020123456"} {
		for range 2 {
			r, err := e.Command(ctx, cmd, 0)
			if err != nil || len(r.Lines) != 1 || r.Lines[0] != want {
				t.Errorf("%s: %q %v, want %q", cmd, r.Lines, err, want)
			}
		}
	}
}

// runEngine runs e until the test ends; its context is the test's.
func runEngine(t *testing.T, e *Engine) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}
