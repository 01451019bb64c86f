package calldial

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"edgebox/gateway"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// Janus's WebSocket API (janus.plugin.sip), as a browser page using
// janus.js speaks it: create a session, attach the SIP plugin, register
// as a guest, call with the offer; the plugin's "accepted" event carries
// the answer. calldial measures Janus with it at the gateway's load
// points (bench), so the two stacks are compared in one run.

// janusLeg is a call's Janus session and SIP plugin handle.
type janusLeg struct {
	session, handle uint64
	txn             atomic.Uint64
	stopKeepalive   chan struct{}
}

// janusMsg is one message of Janus's API, both ways (the fields a
// message does not use stay empty).
type janusMsg struct {
	Janus       string          `json:"janus"`
	Transaction string          `json:"transaction,omitempty"`
	SessionID   uint64          `json:"session_id,omitempty"`
	HandleID    uint64          `json:"handle_id,omitempty"`
	Plugin      string          `json:"plugin,omitempty"`
	Body        any             `json:"body,omitempty"`
	JSEP        *janusJSEP      `json:"jsep,omitempty"`
	Candidate   *janusCandidate `json:"candidate,omitempty"`
	Data        *janusID        `json:"data,omitempty"`
	Error       *janusError     `json:"error,omitempty"`
	PluginData  *janusPlugin    `json:"plugindata,omitempty"`
	Reason      string          `json:"reason,omitempty"` // of a core "hangup"
}

type janusJSEP struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

type janusCandidate struct {
	Candidate     string  `json:"candidate,omitempty"`
	SDPMid        *string `json:"sdpMid,omitempty"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex,omitempty"`
	Completed     bool    `json:"completed,omitempty"`
}

type janusID struct {
	ID uint64 `json:"id"`
}

type janusError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

type janusPlugin struct {
	Plugin string       `json:"plugin"`
	Data   janusSIPData `json:"data"`
}

// janusSIPData is what the SIP plugin says: an event, or an error.
type janusSIPData struct {
	SIP       string `json:"sip"`
	ErrorCode int    `json:"error_code,omitempty"`
	Error     string `json:"error,omitempty"`
	Result    *struct {
		Event  string `json:"event"`
		Code   int    `json:"code,omitempty"`
		Reason string `json:"reason,omitempty"`
	} `json:"result,omitempty"`
}

// event is the SIP plugin's event name ("" when the message has none).
func (m *janusMsg) event() string {
	if m.PluginData == nil || m.PluginData.Data.Result == nil {
		return ""
	}
	return m.PluginData.Data.Result.Event
}

// pluginError is the SIP plugin's error, or "".
func (m *janusMsg) pluginError() string {
	if m.PluginData == nil || m.PluginData.Data.ErrorCode == 0 {
		return ""
	}
	return fmt.Sprintf("janus sip %d %s", m.PluginData.Data.ErrorCode, m.PluginData.Data.Error)
}

// janusKeepalive is how often a call tells Janus its session is alive:
// well inside Janus's default session timeout of 60 s.
const janusKeepalive = 25 * time.Second

func (c *call) readJanus(ctx context.Context) (janusMsg, error) {
	var m janusMsg
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return m, err
	}
	return m, json.Unmarshal(data, &m)
}

// janusSend sends m on the call's session and handle with a new
// transaction, which it returns.
func (c *call) janusSend(ctx context.Context, m janusMsg) (string, error) {
	m.Transaction = "t" + strconv.FormatUint(c.janus.txn.Add(1), 10)
	m.SessionID = c.janus.session
	if m.Janus != "attach" && m.Janus != "create" && m.Janus != "keepalive" {
		m.HandleID = c.janus.handle
	}
	return m.Transaction, c.write(ctx, m)
}

// janusAwait reads until the reply to transaction txn that accept takes
// (it returns done), or an error reply.
func (c *call) janusAwait(ctx context.Context, txn string, accept func(janusMsg) (done bool, failure string)) string {
	for {
		m, err := c.readJanus(ctx)
		if err != nil {
			return "janus signaling: " + shortErr(err)
		}
		if m.Transaction != txn {
			continue
		}
		if m.Janus == "error" && m.Error != nil {
			return fmt.Sprintf("janus %d %s", m.Error.Code, m.Error.Reason)
		}
		if done, f := accept(m); done || f != "" {
			return f
		}
	}
}

// janusSession is a Janus session with the SIP plugin attached and
// registered as a guest: what a page has once it loaded, before its user
// calls. failure says why there is none.
type janusSession struct {
	ws      *websocket.Conn
	leg     *janusLeg
	failure string
}

// janusRegister opens a Janus session as a page with janus.js does when
// it loads: create it, attach the SIP plugin, register as a guest. Its
// keepalives start.
func (r *runner) janusRegister(ctx context.Context, id int) *janusSession {
	c := &call{run: r}
	if f := c.janusRegister(ctx, id); f != "" {
		if c.ws != nil {
			c.ws.Close(websocket.StatusNormalClosure, "bye")
		}
		return &janusSession{failure: f}
	}
	return &janusSession{ws: c.ws, leg: c.janus}
}

func (c *call) janusRegister(ctx context.Context, id int) string {
	ws, _, err := websocket.Dial(ctx, c.run.opt.Janus, &websocket.DialOptions{HTTPClient: c.run.hc, Subprotocols: []string{"janus-protocol"}})
	if err != nil {
		return "janus signaling: " + shortErr(err)
	}
	ws.SetReadLimit(1 << 20)
	c.ws = ws
	c.janus = &janusLeg{stopKeepalive: make(chan struct{})}
	success := func(into *uint64) func(janusMsg) (bool, string) {
		return func(m janusMsg) (bool, string) {
			if m.Janus != "success" || m.Data == nil {
				return false, ""
			}
			*into = m.Data.ID
			return true, ""
		}
	}
	steps := []struct {
		msg    janusMsg
		accept func(janusMsg) (bool, string)
	}{
		{janusMsg{Janus: "create"}, success(&c.janus.session)},
		{janusMsg{Janus: "attach", Plugin: "janus.plugin.sip"}, success(&c.janus.handle)},
		{janusMsg{Janus: "message", Body: map[string]any{"request": "register", "type": "guest",
			"username": fmt.Sprintf("sip:calldial-%d@%s", id, c.run.opt.LocalIP)}}, sipEvent("registered")},
	}
	for _, s := range steps {
		txn, err := c.janusSend(ctx, s.msg)
		if err != nil {
			return "janus signaling: " + shortErr(err)
		}
		if f := c.janusAwait(ctx, txn, s.accept); f != "" {
			return f
		}
	}
	go c.janusKeepalives()
	return ""
}

// signalJanus calls Destination through Janus with the offer, on session
// s when the run registered it ahead, else on one it registers now; it
// returns the failure cause, or "" once the call is offered.
func (c *call) signalJanus(ctx context.Context, id int, s *janusSession) string {
	if s != nil {
		if s.failure != "" {
			return s.failure
		}
		c.ws, c.janus = s.ws, s.leg
	} else if f := c.janusRegister(ctx, id); f != "" {
		return f
	}
	sdp, f := c.offer(ctx)
	if f != "" {
		return f
	}
	if _, err := c.janusSend(ctx, janusMsg{Janus: "message", Body: map[string]any{"request": "call", "uri": c.run.opt.Destination},
		JSEP: &janusJSEP{Type: "offer", SDP: sdp}}); err != nil {
		return "janus signaling: " + shortErr(err)
	}
	// the offer holds every candidate: say so, as a page that gathered
	// before offering does
	if _, err := c.janusSend(ctx, janusMsg{Janus: "trickle", Candidate: &janusCandidate{Completed: true}}); err != nil {
		return "janus signaling: " + shortErr(err)
	}
	go c.janusReadLoop()
	return ""
}

// registerAhead registers the run's Janus sessions before its first call
// (JanusRegisterFirst), a few at a time, and returns them by call number.
func (r *runner) registerAhead(ctx context.Context) []*janusSession {
	out := make([]*janusSession, r.opt.Total)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rctx, cancel := context.WithTimeout(ctx, r.opt.SetupTimeout)
				out[i] = r.janusRegister(rctx, i)
				cancel()
			}
		}()
	}
	start := time.Now()
	for i := range out {
		if ctx.Err() != nil {
			break
		}
		next <- i
		if r.opt.Progress != nil && i > 0 && i%200 == 0 {
			fmt.Fprintf(r.opt.Progress, "calldial: %d Janus sessions registered in %.0fs\n", i, time.Since(start).Seconds())
		}
	}
	close(next)
	wg.Wait()
	for i := range out {
		if out[i] == nil {
			out[i] = &janusSession{failure: "not registered: run ended"}
		}
	}
	return out
}

// closeUnused ends the sessions no call took.
func closeUnused(sessions []*janusSession, used []atomic.Bool) {
	for i, s := range sessions {
		if s.ws != nil && !used[i].Load() {
			close(s.leg.stopKeepalive)
			s.ws.Close(websocket.StatusNormalClosure, "bye")
		}
	}
}

// sipEvent accepts the SIP plugin's event want and fails on its errors.
func sipEvent(want string) func(janusMsg) (bool, string) {
	return func(m janusMsg) (bool, string) {
		if f := m.pluginError(); f != "" {
			return false, f
		}
		return m.event() == want, ""
	}
}

// janusReadLoop applies the answer and turns the SIP plugin's events into
// the call's answered and ended events.
func (c *call) janusReadLoop() {
	defer close(c.janus.stopKeepalive)
	var answered atomic.Bool
	end := func(m gateway.Message) {
		m.Type, m.Event = gateway.MsgEvent, gateway.EventEnded
		select {
		case c.ended <- m:
		default:
		}
	}
	for {
		m, err := c.readJanus(context.Background())
		if err != nil {
			end(gateway.Message{Reason: "janus signaling closed: " + shortErr(err)})
			return
		}
		if m.JSEP != nil && m.JSEP.Type == "answer" && c.lean != nil {
			if err := c.lean.answer(m.JSEP.SDP); err != nil {
				end(gateway.Message{Reason: "answer not usable: " + shortErr(err)})
				return
			}
		} else if m.JSEP != nil && m.JSEP.Type == "answer" && c.pc.RemoteDescription() == nil {
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.JSEP.SDP}); err != nil {
				end(gateway.Message{Reason: "answer not usable: " + shortErr(err)})
				return
			}
		}
		switch m.Janus {
		case "trickle":
			if m.Candidate != nil && m.Candidate.Candidate != "" && c.lean != nil {
				c.lean.candidate(m.Candidate.Candidate)
			} else if m.Candidate != nil && m.Candidate.Candidate != "" {
				c.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: m.Candidate.Candidate, SDPMid: m.Candidate.SDPMid, SDPMLineIndex: m.Candidate.SDPMLineIndex})
			}
		case "hangup", "detached", "timeout":
			end(gateway.Message{Reason: "janus " + m.Janus + " " + m.Reason})
			return
		case "event":
			if f := m.pluginError(); f != "" {
				end(gateway.Message{Reason: f})
				return
			}
			switch m.event() {
			case "accepted":
				if answered.CompareAndSwap(false, true) {
					close(c.answered)
				}
			case "hangup":
				r := m.PluginData.Data.Result
				end(gateway.Message{SIPCode: r.Code, Reason: r.Reason})
				return
			}
		}
	}
}

// janusKeepalives keep the session alive until the read loop ends.
func (c *call) janusKeepalives() {
	t := time.NewTicker(janusKeepalive)
	defer t.Stop()
	for {
		select {
		case <-c.janus.stopKeepalive:
			return
		case <-t.C:
			if _, err := c.janusSend(context.Background(), janusMsg{Janus: "keepalive"}); err != nil {
				return
			}
		}
	}
}

// janusHangup asks the SIP plugin to send BYE; its "hangup" event ends
// the call (closing the WebSocket then frees the session in Janus).
func (c *call) janusHangup() error {
	_, err := c.janusSend(context.Background(), janusMsg{Janus: "message", Body: map[string]any{"request": "hangup"}})
	return err
}
