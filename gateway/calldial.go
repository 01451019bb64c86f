package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Dialling, ringing and talking: the call's SIP dialog from the INVITE to
// its end, driven by the call's run goroutine.

// dial places the INVITE and runs the call until it ends.
func (c *call) dial(ctx context.Context) {
	if !c.openLegs() {
		return
	}
	inv, ok := c.invite(ctx)
	if !ok {
		return
	}
	answered := c.ring(ctx, inv)
	// the INVITE's wait is over (WaitAnswer returned before the final
	// event): its 3-minute timer and context are not kept for the call
	inv.cancel()
	if answered {
		c.talk(ctx)
	}
}

// openLegs opens the PBX-side media ports: audio, and video if the
// browser offered it (audio only when no second pair is free).
func (c *call) openLegs() bool {
	ip := c.localRTPAddr()
	leg, err := openPBXLeg(c.svc.ports, ip)
	if err != nil {
		c.refuse(CodeInternal, err.Error())
		c.end(503, "no media port")
		return false
	}
	leg.warn = c.log.Warn
	c.mu.Lock()
	c.pbx = leg
	c.info.PBX.Local = leg.local.String()
	c.mu.Unlock()
	if len(c.videoOffer) > 0 {
		vleg, err := openPBXLeg(c.svc.ports, ip)
		if err != nil {
			c.log.Warn("no port pair for video: audio only", "err", err)
			c.videoOffer = nil
		} else {
			vleg.warn = c.log.Warn
			c.mu.Lock()
			c.video = &videoBridge{leg: vleg}
			c.mu.Unlock()
		}
	}
	return true
}

// inviting is the call's INVITE while it waits for the final response.
type inviting struct {
	dlg    *sipgo.DialogClientSession
	events chan inviteEvent // responses, then the end of waiting
	cancel context.CancelFunc
}

// inviteEvent is a response to the call's INVITE, or the end of waiting.
type inviteEvent struct {
	res   *sip.Response
	final bool
	err   error
}

// invite sends the INVITE and starts waiting for its answer (digest
// auth answered with the trunk's credentials).
func (c *call) invite(ctx context.Context) (*inviting, bool) {
	req, dua, err := c.svc.sip.newInvite(c.grant, c.cfg.PBX, c.pbxSDP("sendrecv"))
	if err != nil {
		c.refuse(CodeInternal, err.Error())
		c.end(0, err.Error())
		return nil, false
	}
	sipID := req.CallID()
	if sipID == nil {
		id := sip.CallIDHeader(sip.GenerateTagN(24))
		req.AppendHeader(&id)
		sipID = &id
	}
	c.mu.Lock()
	c.info.SIPCallID = sipID.Value()
	c.info.PBX.Remote = c.cfg.PBX.HostPort()
	c.mu.Unlock()
	c.svc.bindSIP(sipID.Value(), c)

	inviteCtx, cancel := context.WithTimeout(ctx, answerTimeout)
	dlg, err := dua.WriteInvite(inviteCtx, req)
	if err != nil {
		cancel()
		c.refuse(CodeInternal, "INVITE: "+err.Error())
		c.end(503, "INVITE not sent: "+err.Error())
		return nil, false
	}
	c.dialog = dlg
	inv := &inviting{dlg: dlg, events: make(chan inviteEvent, 16), cancel: cancel}
	go func() {
		err := dlg.WaitAnswer(inviteCtx, sipgo.AnswerOptions{
			Username: c.cfg.Trunk.Username,
			Password: c.cfg.Trunk.Password,
			OnResponse: func(res *sip.Response) error {
				c.onInviteResponse(inv, res)
				return nil
			},
		})
		inv.events <- inviteEvent{final: true, err: err}
	}()
	return inv, true
}

// onInviteResponse takes a response to the INVITE on the goroutine that
// waits for the answer. The PBX's 100 Trying is said to the client from
// here (the call's state and its socket take it from any goroutine), so
// the run loop is not woken for it; the other provisional responses go
// to the run loop. A final one is not passed on: the wait's end follows
// it at once with the outcome (a 2xx, or the refusal after any digest
// challenge was answered).
func (c *call) onInviteResponse(inv *inviting, res *sip.Response) {
	switch {
	case res.StatusCode == 100:
		c.onTrying(res)
	case res.IsProvisional():
		inv.events <- inviteEvent{res: res}
	}
}

// onTrying is the PBX's 100 Trying.
func (c *call) onTrying(res *sip.Response) {
	c.advanceState(StateTrying)
	c.event(EventTrying, 100, res.Reason)
}

// ring runs the call until the INVITE's final response; it says whether
// the call was answered (and goes on talking).
func (c *call) ring(ctx context.Context, inv *inviting) bool {
	canceled := ""
	cancel := func(why string) {
		if canceled == "" {
			canceled = why
			inv.cancel()
		}
	}
	for !c.answered {
		select {
		case ev := <-inv.events:
			if ev.final && c.onFinal(ctx, inv, ev.err, canceled) {
				return false
			}
			if !ev.final {
				c.onProvisional(ev.res)
			}
		case m, ok := <-c.in:
			if why := c.fromClient(m, ok, "while ringing"); why != "" {
				cancel(why + " while ringing")
			}
		case r := <-c.pbxIn:
			if c.onPBXRequest(r) {
				return false
			}
		case why := <-c.hangup:
			cancel(why)
		case why := <-c.pcDown:
			cancel(why)
		}
	}
	return true
}

// onFinal handles the INVITE's final response (err nil: answered) and
// says whether the call ended.
func (c *call) onFinal(ctx context.Context, inv *inviting, err error, canceled string) bool {
	if err == nil {
		if err := c.onAnswer(ctx); err != nil {
			c.log.Warn("the PBX's answer is not usable: call ended", "err", err)
			c.bye()
			c.end(488, "answer not usable: "+err.Error())
			return true
		}
		return false
	}
	var de *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &de):
		if hint := refusedHint(de.Res.StatusCode); hint != "" {
			c.log.Warn("the PBX refused the call", "code", de.Res.StatusCode, "reason", de.Res.Reason, "destination", c.grant.Destination, "fix", hint)
		}
		c.end(de.Res.StatusCode, refusedReason(de.Res))
	case canceled != "":
		// a 200 may have crossed our CANCEL
		if r := inv.dlg.InviteResponse; r != nil && r.IsSuccess() {
			inv.dlg.Ack(context.Background())
			c.bye()
		}
		c.end(487, canceled)
	case errors.Is(err, context.DeadlineExceeded):
		c.end(408, "no answer in time")
	default:
		c.end(503, "INVITE failed: "+err.Error())
	}
	return true
}

// talk runs the answered call until one side ends it.
func (c *call) talk(ctx context.Context) {
	for {
		select {
		case m, ok := <-c.in:
			if why := c.fromClient(m, ok, "during the call"); why != "" {
				c.hangUp(200, why)
				return
			}
		case r := <-c.pbxIn:
			if c.onPBXRequest(r) {
				return
			}
		case why := <-c.hangup:
			c.hangUp(200, why)
			return
		case why := <-c.pcDown:
			c.hangUp(200, why)
			return
		case <-c.dialogEnd:
			// sipgo ended the dialog (ACK retransmission failed ...);
			// keepDialog sets it, so a transfer switches it
			c.end(200, "dialog ended")
			return
		case <-c.slimC():
			c.slimDown() // the accepted window is over (dialogslim.go)
		case <-ctx.Done():
			c.hangUp(503, "gateway shutting down")
			return
		}
	}
}

// fromClient handles a message from the browser while ringing or
// talking (when tells which, for the refusal); it returns why the call
// should end ("client left", "client hung up"), or "".
func (c *call) fromClient(m *Message, ok bool, when string) string {
	if !ok {
		c.in = nil // closed: stop selecting it
		return "client left"
	}
	switch m.Type {
	case MsgHangup:
		return "client hung up"
	case MsgCandidate:
		c.addCandidate(m.Candidate)
	case MsgDTMF:
		c.queueDTMF(m.Digits)
	case MsgOffer:
		c.clientReoffer(m.SDP) // ICE restart (callrestart.go)
	default:
		c.refuse(CodeState, fmt.Sprintf("%q %s", m.Type, when))
	}
	return ""
}

// hangUp ends the dialog from the box's side (BYE) and the call.
func (c *call) hangUp(code int, reason string) {
	c.bye()
	c.end(code, reason)
}

func (c *call) onProvisional(res *sip.Response) {
	switch {
	case res.StatusCode == 100:
		c.onTrying(res)
	case res.StatusCode == 180 || (res.StatusCode == 183 && len(res.Body()) == 0):
		c.advanceState(StateRinging)
		c.event(EventRinging, res.StatusCode, res.Reason)
		if len(res.Body()) > 0 && c.plan == nil {
			c.earlyMedia(res)
		}
	case res.StatusCode == 183:
		c.earlyMedia(res)
	case res.StatusCode >= 101 && res.StatusCode < 200:
		c.event(EventRinging, res.StatusCode, res.Reason)
	}
}

func (c *call) earlyMedia(res *sip.Response) {
	if c.plan != nil {
		return
	}
	if err := c.startMedia(res.Body()); err != nil {
		c.log.Warn("early media not usable", "err", err)
		return
	}
	c.advanceState(StateEarly)
	c.event(EventEarlyMedia, res.StatusCode, res.Reason)
}

func (c *call) onAnswer(ctx context.Context) error {
	res := c.dialog.InviteResponse
	if err := c.dialog.Ack(ctx); err != nil {
		return fmt.Errorf("ACK: %w", err)
	}
	c.keepDialog(c.dialog)
	if c.plan == nil {
		if err := c.startMedia(res.Body()); err != nil {
			return err
		}
	} else if len(res.Body()) > 0 {
		c.answerAfterEarly(res.Body())
	}
	c.answered = true
	c.setState(StateAnswered)
	c.event(EventAnswered, 200, res.Reason)
	return nil
}

func (c *call) bye() {
	if c.dialog == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := byeDialog(ctx, c.dialog, c.dialogSlim); err != nil {
		c.log.Debug("BYE", "err", err)
	}
}

// answerAfterEarly applies the 200's SDP after early media: it counts
// when it differs from the 183's (an announcement server, then the
// agent's phone): another address, or another of the offered codecs, for
// which the browser leg is renegotiated as for a re-INVITE. An unusable
// one leaves the early media's in place, and the PBX admin is told.
func (c *call) answerAfterEarly(body []byte) {
	info, err := parsePBXSDP(string(body), c.cfg.PBX)
	var plan *bridgePlan
	if err == nil {
		plan, err = planBridge(c.offer.Audio, info.Audio)
	}
	if err == nil && plan.Browser.PT != c.plan.Browser.PT {
		err = c.switchCodec(plan)
	}
	if err != nil {
		c.log.Warn("the PBX's 200 OK has an SDP other than its 183's that the box cannot use: media stays as the 183 set it up", "err", err)
		return
	}
	c.plan = plan
	c.pbx.apply(plan)
}
