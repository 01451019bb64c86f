package gateway_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"edgebox/gateway"
	"edgebox/gateway/client"
)

// fleetPortal is a portal spreading calls over several boxes the way
// docs/fleet.md (section 7) tells: round robin, and on 503 or an
// unreachable box, on to the next one, skipping the refusing box for a
// while.
type fleetPortal struct {
	bases   []string
	next    int
	skip    []time.Time
	moved   int // set-ups that went to another box than their turn's
	refused map[string]int
}

func (p *fleetPortal) place(t *testing.T, ctx context.Context) (int, *client.Call, error) {
	t.Helper()
	first := -1
	for range len(p.bases) {
		i := p.next % len(p.bases)
		p.next++
		if first < 0 {
			first = i
		}
		if time.Now().Before(p.skip[i]) {
			continue
		}
		res, err := client.Authorize(ctx, httpClient, p.bases[i], testAPIKey,
			gateway.AuthorizeRequest{From: testFrom, Destination: "sip:agent@127.0.0.1", Context: testContext})
		if err != nil {
			var he *client.HTTPError
			if errors.As(err, &he) && he.Status == 503 {
				p.refused["503"]++
			} else {
				p.refused["unreachable"]++
			}
			p.skip[i] = time.Now().Add(30 * time.Second) // Retry-After
			continue
		}
		c, err := client.Dial(ctx, res.WebSocketURL, res.Token, client.Options{LoopbackOnly: true})
		if err != nil {
			return i, nil, err
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.WaitEvent(ctx, gateway.EventAnswered); err != nil {
			return i, c, err
		}
		if i != first {
			p.moved++
		}
		return i, c, nil
	}
	return -1, nil, errors.New("every box refused")
}

// TestPortalSpreadsCallsAcrossBoxes is a small bounded load run of real
// calls (browser client → box → SIPp PBX) over three boxes: spread evenly
// while all are healthy; one box drained with a call on it (the call goes
// on, new calls go to the others); then one box stopped with a call on it
// (only that call is lost; new calls go to the last box). No set-up fails.
func TestPortalSpreadsCallsAcrossBoxes(t *testing.T) {
	// SIPp's -m: above the run's calls (about 18), so it never stops early
	uas := startSIPp(t, "uas_echo", 40, "-timeout", "600s")
	var boxes []*gateway.Service
	p := &fleetPortal{refused: map[string]int{}}
	for range 3 {
		svc := startGateway(t, testConfig(t, uas.addr()))
		boxes = append(boxes, svc)
		p.bases = append(p.bases, portalBase(svc))
		p.skip = append(p.skip, time.Time{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	perBox := make([]int, 3)
	failed := 0
	oneCall := func() {
		i, c, err := p.place(t, ctx)
		if err != nil {
			failed++
			t.Errorf("call set-up failed (box %d): %v", i, err)
			return
		}
		perBox[i]++
		c.Hangup(ctx)
		if _, err := c.WaitEvent(ctx, gateway.EventEnded); err != nil {
			t.Errorf("hangup: %v", err)
		}
	}

	for range 6 {
		oneCall()
	}
	for i, n := range perBox {
		if n != 2 {
			t.Errorf("healthy fleet: box %d got %d of 6 calls; want 2 each (%v)", i, n, perBox)
		}
	}

	// A call live on box 0 (the next in turn), then box 0 drains.
	i, live0, err := p.place(t, ctx)
	if err != nil || i != 0 {
		t.Fatalf("call on box 0: box %d %v", i, err)
	}
	drainStart := time.Now()
	drained := make(chan time.Duration, 1)
	go func() { boxes[0].DrainWait(ctx); drained <- time.Since(drainStart) }()
	waitFor(t, 30*time.Second, "box 0 draining", boxes[0].Draining)
	before := perBox[0]
	for range 4 {
		oneCall()
	}
	if perBox[0] != before {
		t.Errorf("the drained box took %d new calls", perBox[0]-before)
	}
	if n := boxes[0].Status().ActiveCalls; n != 1 {
		t.Errorf("the call on the drained box was cut: %d calls live there", n)
	}
	live0.Hangup(ctx)
	var drainTook time.Duration
	select {
	case drainTook = <-drained:
	case <-time.After(60 * time.Second):
		t.Fatal("box 0 did not finish draining after its call ended")
	}

	// A call live on box 2, then box 2 is stopped: that call is lost.
	var live2 *client.Call
	for live2 == nil {
		i, c, err := p.place(t, ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			live2 = c
		} else {
			perBox[i]++
			c.Hangup(ctx)
			c.WaitEvent(ctx, gateway.EventEnded)
		}
	}
	boxes[2].Close()
	before1 := perBox[1]
	for range 4 {
		oneCall()
	}
	if perBox[1] != before1+4 {
		t.Errorf("with box 0 drained and box 2 stopped, box 1 took %d of 4 calls", perBox[1]-before1)
	}
	if _, err := live2.WaitEvent(ctx, gateway.EventEnded); err != nil {
		t.Errorf("the call on the stopped box did not end: %v", err)
	}
	if failed != 0 {
		t.Errorf("%d call set-ups failed; want none", failed)
	}
	t.Logf("fleet run: calls per box %v, calls moved to another box %d, set-ups failed %d, calls lost on the stopped box 1, refusals %v, time to drain %v",
		perBox, p.moved, failed, p.refused, drainTook.Round(time.Millisecond))
}
