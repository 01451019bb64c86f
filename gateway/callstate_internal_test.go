package gateway

import "testing"

// TestProvisionalStatesNeverGoBack: the PBX's 100 Trying handled after its
// 183 with early media (they come a millisecond apart; seen in make test:
// the API said "trying" while early media flowed) leaves the call in early
// media, and no provisional answer moves an answered or ended call back.
func TestProvisionalStatesNeverGoBack(t *testing.T) {
	for _, c := range []struct{ now, provisional, want string }{
		{StateAuthorized, StateTrying, StateTrying},
		{StateTrying, StateEarly, StateEarly},
		{StateEarly, StateTrying, StateEarly},
		{StateEarly, StateRinging, StateEarly},
		{StateRinging, StateEarly, StateEarly},
		{StateAnswered, StateRinging, StateAnswered},
		{StateHeld, StateEarly, StateHeld},
		{StateEnded, StateTrying, StateEnded},
	} {
		call := &call{}
		call.info.State = c.now
		call.advanceState(c.provisional)
		if call.info.State != c.want {
			t.Errorf("%s then a provisional %s: %s, want %s", c.now, c.provisional, call.info.State, c.want)
		}
	}
}
