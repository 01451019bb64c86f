package modem

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// bootURCModem is an Ericsson card whose boot line *EMRDY: 1 reaches the
// box just before the answer to the first command (it was waiting in the
// port when the box opened it). Like a real card it takes a moment for
// each answer, and reads the next command meanwhile.
func bootURCModem(t *testing.T) func(string) (io.ReadWriteCloser, error) {
	var once sync.Once
	return func(string) (io.ReadWriteCloser, error) {
		a, b := net.Pipe()
		t.Cleanup(func() { b.Close() })
		replies := make(chan string, 16)
		go func() { // answers, in order, each after the card's latency
			for out := range replies {
				if strings.HasPrefix(out, "\r\n*EMRDY") {
					io.WriteString(b, out)
					continue
				}
				time.Sleep(50 * time.Millisecond)
				if _, err := io.WriteString(b, out); err != nil {
					return
				}
			}
		}()
		go func() {
			defer close(replies)
			r := bufio.NewReader(b)
			for {
				cmd, err := r.ReadString('\r')
				if err != nil {
					return
				}
				cmd = strings.TrimSpace(cmd)
				first := false
				once.Do(func() { first = true })
				switch {
				case first:
					replies <- "\r\n*EMRDY: 1\r\n"
					replies <- "\r\nOK\r\n"
				case cmd == "AT+CGMI":
					replies <- "\r\nEricsson\r\n\r\nOK\r\n"
				case cmd == "AT+CGMM":
					replies <- "\r\nF5521gw\r\n\r\nOK\r\n"
				default:
					replies <- "\r\nOK\r\n"
				}
			}
		}()
		return a, nil
	}
}

// TestProbeSurvivesBootURC: probing a configured port without a profile
// never pairs *EMRDY: 1 with the reply to AT, so every later reply is read
// for its own command: manufacturer and model right, Ericsson profile.
func TestProbeSurvivesBootURC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	devs, err := detect(ctx, DetectOptions{SysfsRoot: t.TempDir(), Port: "/dev/ttyACM0", OpenPort: bootURCModem(t), ProbeTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := devs[0]
	if d.Manufacturer != "Ericsson" || d.Model != "F5521gw" || d.Profile != "ericsson-f5521gw" {
		t.Fatalf("probed %q %q profile %s", d.Manufacturer, d.Model, d.Profile)
	}
}
