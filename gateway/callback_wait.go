package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The page's side of a callback: after auth with a receive token the
// socket waits (event "waiting") until the PBX calls, the page stops
// waiting, or the token's lifetime is over.

// readClient reads the client's messages into the returned channel (closed
// when the client is gone or sent maxBadMessages malformed ones, then
// malformed is set) until stop is closed.
func readClient(conn *websocket.Conn, sig *wsSignaler, stop <-chan struct{}) (chan *Message, *atomic.Bool) {
	in := make(chan *Message, 8)
	var malformed atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stop
		cancel()
	}()
	go func() {
		defer close(in)
		bad := 0
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			m, err := decodeMessage(data)
			if err != nil {
				bad++
				sig.send(Message{Type: MsgError, Code: CodeBadMessage, Error: err.Error()})
				if bad >= maxBadMessages {
					malformed.Store(true)
					return
				}
				continue
			}
			select {
			case in <- &m:
			case <-stop:
				return
			}
		}
	}()
	return in, &malformed
}

// waitCallback serves the socket of a page that authenticated with a
// receive token g (spent by now) until the callback ended, then closes it.
func (s *Service) waitCallback(conn *websocket.Conn, sig *wsSignaler, g callGrant, r *http.Request) {
	stop := make(chan struct{})
	defer close(stop)
	in, malformed := readClient(conn, sig, stop)
	w := &callbackWaiter{grant: g, ring: make(chan *callbackRing, 1)}
	s.callbacks.add(w)
	until := g.Expires.UTC().Format(time.RFC3339)
	s.log.Info("callback waiting", "sip_user", g.SIPUser, "key", g.KeyName, "until", until, "src", remoteIP(r))
	sig.send(Message{Type: MsgEvent, Event: EventWaiting, ExpiresAt: until,
		Reason: "waiting for the call until " + until})
	s.callbackWait(w, in, sig, r)
	if malformed.Load() {
		conn.Close(websocket.StatusPolicyViolation, CloseMalformed)
		return
	}
	conn.Close(websocket.StatusNormalClosure, CloseCallEnded)
}

// callbackWait waits for the PBX's INVITE and runs the call it brings.
func (s *Service) callbackWait(w *callbackWaiter, in chan *Message, sig *wsSignaler, r *http.Request) {
	ended := func(code int, reason string) {
		sig.send(Message{Type: MsgEvent, Event: EventEnded, SIPCode: code, Reason: reason})
	}
	// stopWaiting ends the wait; false: an INVITE came at the same moment
	// and is in w.ring.
	stopWaiting := func() bool { return s.callbacks.remove(w) }
	t := time.NewTimer(time.Until(w.grant.Expires))
	defer t.Stop()
	for {
		select {
		case rg := <-w.ring:
			s.ringCallback(w.grant, rg, in, sig, r)
			return
		case m, ok := <-in:
			if !ok || m.Type == MsgHangup {
				if !stopWaiting() {
					rg := <-w.ring
					refuseRing(rg, 480, "Temporarily Unavailable", "the customer's page left")
				}
				if ok {
					ended(0, "the page stopped waiting")
				}
				return
			}
			sig.send(Message{Type: MsgError, Code: CodeState, Error: fmt.Sprintf("%q while waiting for the call: answer after the incoming event", m.Type)})
		case <-t.C:
			if !stopWaiting() {
				continue // an INVITE just came: w.ring has it
			}
			s.log.Info("callback token expired", "sip_user", w.grant.SIPUser)
			ended(0, "nobody called before the token expired: ask the portal for a new one")
			return
		case <-s.ctx.Done():
			if !stopWaiting() {
				refuseRing(<-w.ring, 503, "Service Unavailable", "gateway shutting down")
			}
			ended(503, "gateway shutting down")
			return
		}
	}
}

// refuseRing answers a callback INVITE that never reached a page.
func refuseRing(rg *callbackRing, code int, reason, why string) {
	defer rg.finish()
	res := responseWithWarning(rg.dlg, code, reason, why)
	rg.dlg.WriteResponse(res)
	rg.dlg.Close()
}

// ringCallback turns the PBX's INVITE into a call for the waiting page
// and runs it.
func (s *Service) ringCallback(g callGrant, rg *callbackRing, in chan *Message, sig *wsSignaler, r *http.Request) {
	c, err := s.startCall(g, sig)
	if err != nil {
		code, reason := 503, "Service Unavailable"
		if errors.Is(err, errBusy) {
			code, reason = 486, "Busy Here"
		}
		refuseRing(rg, code, reason, err.Error())
		sig.send(Message{Type: MsgEvent, Event: EventEnded, SIPCode: code, Reason: err.Error()})
		return
	}
	c.in = in
	c.caller.set(remoteIP(r)) // whose candidates may be on its network (icefilter.go)
	c.runCallback(s.ctx, rg, s.clientICEServers(s.Config(), g.TURNTag, r))
}
