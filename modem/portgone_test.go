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

// TestPortGoneWhileCardReboots: the card reboots by itself; its USB port
// disappears (reads fail, opening says no such device) for 1.5 s and
// comes back with RDY, +CPIN: READY and +QIND: PB DONE. Commands sent
// meanwhile fail, but the engine waits for the port (as for a reboot it
// asked for) instead of calling a card faulty that is only enumerating:
// before, three commands in that gap and a reopen step that allowed two
// probe timeouts made the card "faulty" though it came back a second
// later.
func TestPortGoneWhileCardReboots(t *testing.T) {
	var mu sync.Mutex
	gone := false
	var card net.Conn
	boots := 0
	open := func() (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return nil, errors.New("open /dev/ttyUSB2: no such file or directory")
		}
		a, b := net.Pipe()
		card = b
		boots++
		booted := boots > 1
		go func() {
			if booted {
				io.WriteString(b, "\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\n+QIND: PB DONE\r\n")
			}
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
	e := NewEngine(EngineConfig{Open: open, Timeout: 300 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond, RebootWait: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	urcs, unsub := e.Subscribe(64)
	defer unsub()
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Fatal(err)
	}
	// The card goes: its port vanishes.
	mu.Lock()
	gone = true
	card.Close()
	mu.Unlock()
	time.AfterFunc(1500*time.Millisecond, func() {
		mu.Lock()
		gone = false
		mu.Unlock()
	})
	for i := 0; i < 3; i++ {
		e.Command(ctx, "AT+CSQ", 0) // fail: the port is gone
	}
	if _, err := e.Command(ctx, "AT+CSQ", 0); err != nil {
		t.Fatalf("after the port came back: %v (faulty: %v)", err, e.Faulty())
	}
	seen := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for !seen["RDY"] || !seen["reopened"] {
		select {
		case u := <-urcs:
			seen[u.Line+u.Engine] = true
		case <-deadline:
			t.Fatalf("events seen %v, want RDY and the engine's 'reopened'", seen)
		}
	}
}
