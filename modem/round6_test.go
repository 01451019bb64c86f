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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
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
