package modem_test

import (
	"fmt"
	"testing"
	"time"

	"edgebox/internal/testenv"
)

// TestCMTIFlood: 60 messages arrive in a burst (an operator's backlog
// after the box was out of coverage), more than the SIM's 20 slots: the
// card stores each and sends +CMTI, and refuses what no longer fits (the
// network sends it again later). Every message ends in the box's store
// exactly once, and the SIM is emptied, while commands still get their
// own answers.
func TestCMTIFlood(t *testing.T) {
	for _, p := range []string{"huawei-me909s", "quectel-ec25"} {
		t.Run(p, func(t *testing.T) {
			r := newRig(t, p, nil)
			ctx := ctxT(t)
			const n = 60
			deadline := time.Now().Add(40 * time.Second)
			for i := 0; i < n; i++ {
				for {
					if _, err := r.sim.DeliverSMS("+491701234567", fmt.Sprintf("flood %02d", i)); err == nil {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("message %d: the SIM stayed full", i)
					}
					time.Sleep(50 * time.Millisecond) // the network retries
				}
				if i%10 == 0 {
					if res, err := r.m.Engine().Command(ctx, "AT+CGSN", 0); err != nil || len(res.Lines) != 1 || res.Lines[0] != "867223020123456" {
						t.Errorf("AT+CGSN during the flood: %q %v", res.Lines, err)
					}
				}
			}
			testenv.WaitFor(t, 30*time.Second, "every message stored", testenv.Cond(func() bool {
				l, _ := r.m.ListSMS()
				return len(l) >= n
			}))
			l, err := r.m.ListSMS()
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			for _, m := range l {
				seen[m.Text]++
			}
			for i := 0; i < n; i++ {
				if c := seen[fmt.Sprintf("flood %02d", i)]; c != 1 {
					t.Errorf("message %02d stored %d times", i, c)
				}
			}
			if len(l) != n {
				t.Errorf("%d messages stored, want %d", len(l), n)
			}
			testenv.WaitFor(t, 10*time.Second, "SIM emptied", testenv.Cond(func() bool { return len(r.sim.State().SMS) == 0 }))
		})
	}
}
