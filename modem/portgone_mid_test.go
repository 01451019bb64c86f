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

// TestPortGoneDuringCommand: the card crashes while it works on a command
// (a network scan, which may take 180 s): its USB port vanishes under the
// read. The command fails at once, naming the restart, instead of waiting
// out its whole timeout for an answer that cannot come on this port, and
// the engine talks to the card again once its port is back.
func TestPortGoneDuringCommand(t *testing.T) {
	var mu sync.Mutex
	gone := false
	open := func() (io.ReadWriteCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return nil, errors.New("open /dev/ttyUSB2: no such file or directory")
		}
		a, b := net.Pipe()
		go func() {
			r := bufio.NewReader(b)
			for {
				l, err := r.ReadString('\r')
				if err != nil {
					return
				}
				switch strings.TrimSpace(l) {
				case "":
				case "AT+COPS=?":
					// The card crashes mid-scan: its port goes.
					mu.Lock()
					gone = true
					mu.Unlock()
					b.Close()
					time.AfterFunc(time.Second, func() { mu.Lock(); gone = false; mu.Unlock() })
					return
				default:
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
	if _, err := e.Command(ctx, "AT", 0); err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	start := time.Now()
	_, err := e.Command(cctx, "AT+COPS=?", 0)
	took := time.Since(start)
	t.Logf("scan with the port gone: %v after %v", err, took.Round(time.Millisecond))
	if !errors.Is(err, ErrRebooted) {
		t.Errorf("scan with the port gone: %v, want the restart named", err)
	}
	if took > 5*time.Second {
		t.Errorf("the scan waited %v for an answer from a port that was gone", took)
	}
	var last error
	for i := 0; i < 6; i++ { // the port is back after 1 s
		if _, last = e.Command(ctx, "AT+CSQ", 0); last == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("after the port came back: %v (faulty: %v)", last, e.Faulty())
	}
}
