package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgebox/gateway"

	"github.com/coder/websocket"
)

// TestSec4ReofferFloodBounded: a caller holding one call token may send
// new offers during the call (ICE restarts when its network changes). The
// box took every one: a media stack parse, an answer and an ICE restart
// each, as fast as the socket carried them, for the call's whole life. A
// real client restarts a few times in a call; past a small burst the box
// refuses with wrong_state and keeps the call as it is.
func TestSec4ReofferFloodBounded(t *testing.T) {
	t.Parallel()
	uas := startSIPp(t, "uas_echo", 1)
	svc := startGateway(t, testConfig(t, uas.addr()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tok, wsURL := authorize(t, svc, testFrom, "sip:agent@127.0.0.1", testContext)
	ws, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(m gateway.Message) {
		b, _ := json.Marshal(m)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	msgs := make(chan gateway.Message, 1024)
	go func() {
		defer close(msgs)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var m gateway.Message
			if json.Unmarshal(b, &m) == nil {
				msgs <- m
			}
		}
	}()
	send(gateway.Message{Type: gateway.MsgAuth, Token: tok})
	offer := craftedOffer(t, 9)
	send(gateway.Message{Type: gateway.MsgOffer, SDP: offer})
	var callID string
	deadline := time.After(20 * time.Second)
	for callID == "" || !answeredCall(svc, callID) {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("signaling closed before the call was answered")
			}
			if m.Type == gateway.MsgAuthorized {
				callID = m.CallID
			}
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("the call was not answered")
		}
	}
	const n = 60
	for i := range n {
		send(gateway.Message{Type: gateway.MsgOffer, SDP: strings.Replace(iceRestartOf(offer, 9), "a=ice-ufrag:restart1", fmt.Sprintf("a=ice-ufrag:flood%d", i), 1)})
	}
	answered, refused := 0, 0
	for answered+refused < n {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatalf("signaling closed after %d answers and %d refusals", answered, refused)
			}
			switch {
			case m.Type == gateway.MsgAnswer:
				answered++
			case m.Type == gateway.MsgError && m.Code == gateway.CodeState:
				refused++
			case m.Type == gateway.MsgError:
				t.Fatalf("offer refused otherwise: %s %s", m.Code, m.Error)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %d offers: %d answered, %d refused, then silence", n, answered, refused)
		}
	}
	if answered > 10 {
		t.Fatalf("the box answered %d of %d new offers sent at once in one call, want a small burst", answered, n)
	}
	if !answeredCall(svc, callID) {
		t.Fatal("the call did not go on after the refused offers")
	}
}

func answeredCall(svc *gateway.Service, id string) bool {
	for _, ci := range svc.Snapshot() {
		if ci.ID == id && ci.State == gateway.StateAnswered {
			return true
		}
	}
	return false
}
