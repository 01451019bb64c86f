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

// TestPortRemovedSaidAtOnce: the card is pulled out (its port's read
// fails and its node is gone). The engine says "removed" at once and
// commands fail with ErrRemoved, without timeouts, resets or a faulty
// verdict; when the port is back the next command opens it ("replugged").
// A port that vanishes after the engine sent the card's reset command is
// that reset's reboot, not a removal. Before, the gone port was timed
// out and recovered (reopen, vendor reset, slot reset) for RebootWait.
func TestPortRemovedSaidAtOnce(t *testing.T) {
	var mu sync.Mutex
	present := true
	var card net.Conn
	var written []string
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
				if l = strings.TrimSpace(l); l != "" {
					mu.Lock()
					written = append(written, l)
					mu.Unlock()
					io.WriteString(b, "\r\nOK\r\n")
				}
			}
		}()
		return a, nil
	}
	pull := func() {
		mu.Lock()
		present = false
		card.Close()
		mu.Unlock()
	}
	slotResets := 0
	e := NewEngine(EngineConfig{Open: open, Timeout: 300 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond,
		RebootWait: time.Minute, ResetCommand: "AT^RESET",
		SlotReset: func() error { slotResets++; return nil },
		Gone:      func() bool { mu.Lock(); defer mu.Unlock(); return !present }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	urcs, unsub := e.Subscribe(64)
	defer unsub()
	waitEngine := func(name string) URC {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case u := <-urcs:
				if u.Engine == name {
					return u
				}
				if u.Engine != "" {
					t.Fatalf("engine event %q (%v) while waiting for %q", u.Engine, u.Err, name)
				}
			case <-deadline:
				t.Fatalf("no engine event %q", name)
			}
		}
	}
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Fatal(err)
	}

	pull()
	if u := waitEngine("removed"); !errors.Is(u.Err, ErrRemoved) {
		t.Errorf("removed event's error: %v", u.Err)
	}
	for range 5 {
		if _, err := e.Command(ctx, "AT+CSQ", 0); !errors.Is(err, ErrRemoved) {
			t.Fatalf("a command while the card is out: %v, want ErrRemoved", err)
		}
	}
	mu.Lock()
	for _, w := range written {
		if w == "AT^RESET" {
			t.Errorf("a removed card was sent its reset: %q", written)
		}
	}
	mu.Unlock()
	if slotResets != 0 || e.Faulty() != nil {
		t.Errorf("slot resets %d, faulty %v: a card that is not there was recovered", slotResets, e.Faulty())
	}

	mu.Lock()
	present = true
	mu.Unlock()
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Fatalf("the card back: %v", err)
	}
	waitEngine("replugged")

	// The box resets the card: its port goes while it reboots.
	if _, err := e.Command(ctx, "AT^RESET", 0); err != nil {
		t.Fatal(err)
	}
	pull()
	if _, err := e.Command(ctx, "AT", 0); errors.Is(err, ErrRemoved) {
		t.Errorf("a card rebooting after its reset taken for removed: %v", err)
	}
}
