package gateway

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// The PBX's 100 Trying is said to the client on the goroutine that waits
// for the INVITE's answer: the call's run loop is not woken for it (one
// wake-up of a parked goroutine fewer per call set-up, issue 17). The
// other provisional responses still go to the run loop, which owns the
// media they may start; final ones are the wait's outcome, which follows
// them, and are not passed on twice.
func TestInviteResponsesOnTheWait(t *testing.T) {
	sent := &sentMessages{}
	c := &call{sig: sent}
	c.info.State = StateAuthorized
	inv := &inviting{events: make(chan inviteEvent, 16)}
	for _, code := range []int{100, 180, 183, 200} {
		c.onInviteResponse(inv, sip.NewResponse(code, "x"))
	}
	if len(sent.m) != 1 || sent.m[0].Event != EventTrying {
		t.Errorf("the client was sent %+v, want the trying event alone", sent.m)
	}
	if c.info.State != StateTrying {
		t.Errorf("state %s after the 100, want %s", c.info.State, StateTrying)
	}
	var passed []int
	for len(inv.events) > 0 {
		passed = append(passed, (<-inv.events).res.StatusCode)
	}
	if len(passed) != 2 || passed[0] != 180 || passed[1] != 183 {
		t.Errorf("passed to the run loop: %v, want [180 183]", passed)
	}
}
