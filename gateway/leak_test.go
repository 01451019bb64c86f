package gateway_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"edgebox/gateway"
)

// TestServiceStopsItsGoroutines places a call, ends it and closes the
// service: the goroutines it started must end too.
func TestServiceStopsItsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	uas := startSIPp(t, "uas_echo", 1)
	cfg := testConfig(t, uas.addr())
	svc, err := gateway.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := dialThrough(t, ctx, svc, "sip:agent@127.0.0.1")
	if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
		t.Fatal(err)
	}
	c.StartAudio(ctx, 0)
	waitEchoed(t, c, 5)
	c.Hangup(ctx)
	c.WaitEvent(ctx, gateway.EventEnded)
	c.Close()
	uas.wait(t, 10*time.Second)
	svc.Close()
	var now int
	for i := 0; i < 100; i++ {
		runtime.GC()
		if now = runtime.NumGoroutine(); now <= before+2 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Errorf("%d goroutines before, %d after the service closed:\n%s", before, now, buf[:n])
}
