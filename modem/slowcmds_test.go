package modem_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"edgebox/modem"
)

// TestNetworkScanWaitedFor: AT+COPS=? (a network scan, up to 180 s on real
// cards; 3 s here) is waited for whatever the engine's default timeout
// (600 ms), and a poll sent meanwhile gives up on its own context without
// starting recovery: no reset reaches the scanning card, and the commands
// after the scan get their own answers.
func TestNetworkScanWaitedFor(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25"} {
		t.Run(p, func(t *testing.T) {
			eng, sim := bareEngine(t, p)
			sim.ScanTime(3 * time.Second)
			type answer struct {
				res modem.Response
				err error
			}
			scan := make(chan answer, 1)
			go func() {
				res, err := eng.Command(ctxT(t), "AT+COPS=?", 0)
				scan <- answer{res, err}
			}()
			time.Sleep(300 * time.Millisecond) // the scan is out
			for i := 0; i < 3; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
				_, err := eng.Command(ctx, "AT+CSQ", 0)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("AT+CSQ during the scan: %v, want its context's end", err)
				}
			}
			a := <-scan
			if a.err != nil {
				t.Fatalf("AT+COPS=?: %v", a.err)
			}
			if got := strings.Join(a.res.Lines, "|"); !strings.HasPrefix(got, "+COPS: (2,") {
				t.Errorf("AT+COPS=? answered %q", got)
			}
			if got := answerOf(t, eng, "AT+CGSN", 0); got != "867223020123456" {
				t.Errorf("AT+CGSN after the scan answered %q", got)
			}
			for _, c := range sim.Commands() {
				if u := strings.ToUpper(c); u == "AT^RESET" || u == "AT+CFUN=1,1" {
					t.Errorf("the scanning card was sent %s", c)
				}
			}
			if err := eng.Faulty(); err != nil {
				t.Errorf("engine after the scan: %v", err)
			}
		})
	}
}

// TestNetworkScanCallerGivesUp: the caller of AT+COPS=? gives up after
// 1 s (the AT passthrough's HTTP client times out at 30 s, real scans take
// up to 180 s). The card goes on scanning with its port busy: the command
// after it must wait for the scan's end and get its own answer, and no
// recovery (whose reset would end the scan) may start.
func TestNetworkScanCallerGivesUp(t *testing.T) {
	eng, sim := bareEngine(t, "quectel-ec25")
	sim.ScanTime(3 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_, err := eng.Command(ctx, "AT+COPS=?", 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AT+COPS=? with its caller gone: %v, want its context's end", err)
	}
	if got := answerOf(t, eng, "AT+CGSN", 10*time.Second); got != "867223020123456" {
		t.Errorf("AT+CGSN after the abandoned scan answered %q", got)
	}
	if got := answerOf(t, eng, "AT+CIMI", 0); got != "262011234567890" {
		t.Errorf("AT+CIMI answered %q: answers are out of step", got)
	}
	for _, c := range sim.Commands() {
		if u := strings.ToUpper(c); u == "AT+CFUN=1,1" {
			t.Errorf("the scanning card was sent %s", c)
		}
	}
}

// TestMinTimeout: the documented slow commands, in any case and spacing.
func TestMinTimeout(t *testing.T) {
	for cmd, want := range map[string]time.Duration{
		"AT+COPS=?": 180 * time.Second, "at+cops=1,2,\"26201\"": 180 * time.Second, " AT+CGATT=1": 140 * time.Second,
		"AT+CGACT=1,1": 150 * time.Second, "AT+CFUN=1": 15 * time.Second,
		"AT+COPS?": 0, "AT+CFUN?": 0, "AT+CSQ": 0, "AT+CGATT?": 0,
	} {
		if got := modem.MinTimeout(cmd); got != want {
			t.Errorf("MinTimeout(%q) = %v, want %v", cmd, got, want)
		}
	}
}
