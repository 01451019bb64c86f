package gateway

import (
	"context"
	"errors"
	"strings"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// GSM -> SIP: the SIM rings, the box sends an INVITE to the SIM's
// inbound destination with the caller's number in From (or Anonymous
// with Privacy: id when withheld) and the SIM's identity in To, and
// answers the GSM call only once the PBX answered (so the caller hears
// the network's ringing until someone picks up, and pays nothing before).

// anonymousFrom is RFC 3323's anonymous URI.
const anonymousFrom = "sip:anonymous@anonymous.invalid"

// incoming takes a GSM call ringing on the SIM of ev.Slot, with that
// SIM's routing and identity.
func (v *gsmVoice) incoming(ev netapi.GSMEvent) {
	v.refreshStatus()
	idx := v.simOfSlot(ev.Slot)
	if idx < 0 {
		// a modem netctl drives that no gateway.gsm.sims entry names:
		// not this bridge's to answer or refuse
		v.log.Warn("GSM call on a slot no gateway.gsm.sims entry names; left ringing", "slot", ev.Slot, "number", ev.Number)
		return
	}
	c := v.newCall(gatewayapi.GSMInbound, idx)
	if v.svc.Draining() {
		// the box restarts soon: a call taken now would be cut
		v.log.Info("GSM call refused: the gateway is draining", "number", ev.Number)
		v.hangupIndex(ev.Slot, ev.Call)
		return
	}
	if c.sim.Voice.Inbound == "" {
		v.log.Info("GSM call refused: no voice.inbound for the SIM", "sim", idx, "slot", c.sim.Slot, "number", ev.Number)
		v.hangupIndex(ev.Slot, ev.Call)
		return
	}
	if !v.claim(c) {
		// a second call while one is in progress (call waiting): the
		// caller gets busy
		v.log.Info("GSM call refused: the SIM carries a call already", "slot", c.sim.Slot, "number", ev.Number)
		v.hangupIndex(ev.Slot, ev.Call)
		return
	}
	c.modem.Slot = ev.Slot // the modem the call rings on, whatever status said
	c.log = v.log.With("call", c.id)
	c.setIndex(ev.Call)
	c.mu.Lock()
	c.info.Destination = c.sim.Voice.Inbound
	if !ev.Withheld && ev.Number != "" {
		if n, ok := c.sim.NormalizeNumber(ev.Number); ok {
			c.info.Number = n
		}
	}
	c.info.Withheld = c.info.Number == ""
	c.mu.Unlock()
	go func() {
		defer c.finish()
		c.runInbound()
	}()
}

func (v *gsmVoice) hangupIndex(slot string, idx int) {
	ctx, cancel := context.WithTimeout(v.ctx, gsmAPITimeout)
	defer cancel()
	if err := v.api.GSMHangupOn(ctx, slot, idx); err != nil {
		v.log.Warn("GSM hangup failed", "slot", slot, "call", idx, "err", err)
	}
}

// inboundInvite builds the INVITE toward the PBX.
func (c *gsmVoiceCall) inboundInvite(body []byte) (*sip.Request, *sipgo.DialogUA, error) {
	c.mu.Lock()
	number, dest := c.info.Number, c.info.Destination
	c.mu.Unlock()
	domain := c.v.domain()
	from := anonymousFrom
	if number != "" {
		from = "sip:" + number + "@" + domain
	}
	req, dua, err := c.v.svc.sip.newInvite(callGrant{From: from, Destination: dest}, c.v.cfg.PBX, body)
	if err != nil {
		return nil, nil, err
	}
	// To: the SIM's identity (what the TG200 put there: the PBX routes
	// by it when several SIMs share one destination)
	to := sip.Uri{Scheme: "sip", User: simIdentity(c.sim, c.modem), Host: domain}
	req.ReplaceHeader(&sip.ToHeader{Address: to, Params: sip.NewParams()})
	if number == "" {
		fh := req.From()
		fh.DisplayName = "Anonymous"
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	if c.sim.Slot != "" {
		req.AppendHeader(sip.NewHeader("X-GSM-Slot", c.sim.Slot))
	}
	return req, dua, nil
}

// runInbound rings the PBX and, once it answers, answers the GSM call
// and bridges the audio.
func (c *gsmVoiceCall) runInbound() {
	leg, err := openPBXLeg(c.v.svc.ports, c.v.localRTPAddr())
	if err != nil {
		c.hangupGSM("no RTP port")
		c.end(503, "no RTP port: "+err.Error())
		return
	}
	c.leg = leg
	req, dua, err := c.inboundInvite(c.sdpFor(nil))
	if err != nil {
		c.hangupGSM("INVITE not built")
		c.end(500, err.Error())
		return
	}
	callID := req.CallID()
	if callID == nil {
		id := sip.CallIDHeader(sip.GenerateTagN(24))
		req.AppendHeader(&id)
		callID = &id
	}
	c.mu.Lock()
	c.info.SIPCallID = callID.Value()
	c.mu.Unlock()
	c.v.bindSIP(callID.Value(), c)

	ring := time.Duration(c.sim.Voice.RingSecOrDefault()) * time.Second
	ictx, icancel := context.WithTimeout(c.v.ctx, ring)
	defer icancel()
	dlg, err := dua.WriteInvite(ictx, req)
	if err != nil {
		c.hangupGSM("INVITE not sent")
		c.end(503, "INVITE not sent: "+err.Error())
		return
	}
	c.dialog = dlg
	final := make(chan error, 1)
	go func() {
		final <- dlg.WaitAnswer(ictx, sipgo.AnswerOptions{Username: c.v.cfg.Trunk.Username, Password: c.v.cfg.Trunk.Password})
	}()
	callerGone := ""
	for {
		select {
		case ev := <-c.events:
			if ev.Kind == netapi.GSMEnded && callerGone == "" {
				callerGone = "caller hung up while ringing (" + ev.Reason + ")"
				icancel() // sipgo sends CANCEL
			}
			continue
		case r := <-c.sipIn:
			r.respond(481, "Call/Transaction Does Not Exist")
			close(r.done)
			continue
		case err = <-final:
		}
		break
	}
	if err != nil {
		c.inviteFailed(err, callerGone)
		return
	}
	if callerGone != "" {
		// a 200 crossed the CANCEL
		dlg.Ack(context.Background())
		c.byeSIP()
		c.end(487, callerGone)
		return
	}
	if err := dlg.Ack(c.v.ctx); err != nil {
		c.hangupGSM("ACK failed")
		c.end(500, "ACK: "+err.Error())
		return
	}
	info, err := parsePBXSDP(string(dlg.InviteResponse.Body()), c.v.cfg.PBX)
	var ch mediaChoice
	if err == nil {
		ch, err = chooseMedia(info.Audio, c.sim.Voice.CodecsOrDefault(), false)
	}
	if err != nil {
		c.byeSIP()
		c.hangupGSM("answer not usable")
		c.end(488, "the PBX's answer: "+err.Error())
		return
	}
	actx, acancel := context.WithTimeout(c.v.ctx, gsmAPITimeout)
	err = c.v.api.GSMAnswerOn(actx, c.modem.Slot, c.index())
	acancel()
	if err != nil {
		c.byeSIP()
		c.end(500, "answering the GSM call failed: "+err.Error())
		return
	}
	if err := c.startMedia(ch, audioTalk); err != nil {
		c.byeSIP()
		c.hangupGSM("audio port")
		c.end(500, err.Error())
		return
	}
	c.talk()
}

// inviteFailed ends an inbound call whose INVITE got no 2xx.
func (c *gsmVoiceCall) inviteFailed(err error, callerGone string) {
	var de *sipgo.ErrDialogResponse
	switch {
	case callerGone != "":
		c.end(487, callerGone)
		return
	case errors.As(err, &de):
		c.end(de.Res.StatusCode, "the PBX answered "+strings.TrimSpace(de.Res.StartLine()))
	case errors.Is(err, context.DeadlineExceeded):
		c.end(408, "nobody answered at the PBX within gateway.gsm.sims[].voice.ring_sec")
	case c.v.ctx.Err() != nil:
		c.end(503, "gateway stopping")
	default:
		c.end(503, "INVITE failed: "+err.Error())
	}
	c.hangupGSM("the PBX did not answer")
}
