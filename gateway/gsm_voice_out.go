package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"edgebox/api/gatewayapi"
	"edgebox/api/netapi"
	"edgebox/internal/config"
	"edgebox/internal/lazyregexp"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// SIP -> GSM: an INVITE from the PBX to sip:+NUMBER@box dials NUMBER
// over the SIM, if the SIM's voice allow-list lets it. While the far end
// rings the PBX gets 183 with early media (the network's ringback when
// the card carries it, else the box's 425 Hz); 200 when it answers; a
// failure maps to a SIP code (gsmEndCode, the table in
// docs/gsm-gateway.md).

// dialTimeout bounds dialling: no answer from the far end by then is 480
// (the network usually gives up earlier with NO ANSWER).
const dialTimeout = 3 * time.Minute

// dialUser is the user part of a Request-URI that means "dial out".
var dialUser = lazyregexp.New(`^\+?[0-9]{2,20}$`)

// gsmEndCode maps netctl's end reason of a call that never connected
// to the final SIP response.
func gsmEndCode(reason string) (int, string) {
	switch reason {
	case netapi.GSMEndBusy:
		return 486, "Busy Here"
	case netapi.GSMEndNoAnswer:
		return 480, "Temporarily Unavailable"
	case netapi.GSMEndNoNetwork:
		return 503, "Service Unavailable"
	case netapi.GSMEndInvalidNumber:
		return 484, "Address Incomplete"
	case netapi.GSMEndNoCarrier, netapi.GSMEndRemoteHangup:
		return 480, "Temporarily Unavailable"
	case netapi.GSMEndLocalHangup:
		return 487, "Request Terminated"
	default:
		return 500, "Server Internal Error"
	}
}

// refuse answers an INVITE the box does not take, with a Reason header
// (RFC 3326) saying why in words.
func refuseInvite(tx sip.ServerTransaction, req *sip.Request, code int, phrase, why string) {
	res := sip.NewResponseFromRequest(req, code, phrase, nil)
	res.AppendHeader(sip.NewHeader("Reason", fmt.Sprintf("SIP;cause=%d;text=%q", code, strings.ReplaceAll(why, `"`, "'"))))
	tx.Respond(res)
}

// invite takes an INVITE from the PBX (the caller checked its source)
// whose Request-URI is a phone number; false leaves it to the caller.
func (v *gsmVoice) invite(req *sip.Request, tx sip.ServerTransaction) bool {
	user := req.Recipient.User
	if !dialUser.MatchString(user) {
		return false
	}
	if v.svc.Draining() {
		tx.Respond(drainingSIPResponse(req))
		return true
	}
	v.refreshStatus()
	c, num, ch, refuse := v.pickOutbound(user, req)
	if c == nil {
		refuse(tx, req)
		return true
	}
	c.log = c.log.With("call", c.id)
	c.mu.Lock()
	c.info.Number, c.info.SIPCallID = num, req.CallID().Value()
	c.mu.Unlock()
	defer c.finish()
	c.runOutbound(req, tx, num, ch)
	return true
}

// offerChoice picks the codec from the PBX's offer.
func offerChoice(req *sip.Request, sim config.GSMSIM, pbx config.GatewayPBX) (mediaChoice, error) {
	info, err := parsePBXSDP(string(req.Body()), pbx)
	if err != nil {
		return mediaChoice{}, fmt.Errorf("the offer: %w", err)
	}
	return chooseMedia(info.Audio, sim.Voice.CodecsOrDefault(), true)
}

// runOutbound dials and answers the INVITE as the GSM call progresses;
// it returns when the call is over (sipgo keeps the INVITE's handler
// running for as long).
func (c *gsmVoiceCall) runOutbound(req *sip.Request, tx sip.ServerTransaction, num string, ch mediaChoice) {
	fail := func(code int, phrase, why string) {
		refuseInvite(tx, req, code, phrase, why)
		c.end(code, why)
	}
	cli, contact, err := c.v.svc.sip.endpoint(c.v.cfg.PBX.Transport)
	if err != nil {
		fail(500, "Server Internal Error", err.Error())
		return
	}
	dlg, err := (&sipgo.DialogUA{Client: cli, ContactHDR: contact}).ReadInvite(req, tx)
	if err != nil {
		fail(400, "Bad Request", err.Error())
		return
	}
	defer dlg.Close()
	c.dialog = dlg
	ack := func(r *sip.Request, tx sip.ServerTransaction) { dlg.ReadAck(r, tx) }
	c.onAck.Store(&ack)
	c.v.bindSIP(req.CallID().Value(), c)
	leg, err := openPBXLeg(c.v.svc.ports, c.v.localRTPAddr())
	if err != nil {
		fail(503, "Service Unavailable", "no RTP port: "+err.Error())
		return
	}
	c.leg = leg
	dlg.Respond(100, "Trying", nil)

	dctx, dcancel := context.WithTimeout(c.v.ctx, gsmAPITimeout)
	res, err := c.v.api.GSMDialOn(dctx, c.modem.Slot, num)
	dcancel()
	switch {
	case err != nil:
		fail(503, "Service Unavailable", "dialling through netctl failed: "+err.Error())
		return
	case res.Call == 0:
		code, phrase := gsmEndCode(res.Ended)
		fail(code, phrase, "the GSM network: "+res.Ended)
		return
	}
	c.setIndex(res.Call)
	c.mu.Lock()
	c.info.GSMCall = res.Call
	c.mu.Unlock()
	if err := c.startMedia(ch, audioRingback); err != nil {
		c.hangupGSM("audio port")
		fail(500, "Server Internal Error", err.Error())
		return
	}
	sdp := c.sdpFor(&ch)
	timeout := time.NewTimer(dialTimeout)
	defer timeout.Stop()
	early := false
	for {
		select {
		case ev := <-c.events:
			switch ev.Kind {
			case netapi.GSMAlerting:
				if !early {
					early = true
					c.setState(gatewayapi.GSMStateAlerting)
					dlg.Respond(183, "Session Progress", sdp, sip.NewHeader("Content-Type", "application/sdp"))
				}
			case netapi.GSMConnected:
				c.audio.setMode(audioTalk)
				if err := dlg.RespondSDP(sdp); err != nil {
					c.hangupGSM("no ACK")
					c.end(500, "200 not acknowledged: "+err.Error())
					return
				}
				c.talk()
				return
			case netapi.GSMEnded:
				code, phrase := gsmEndCode(ev.Reason)
				fail(code, phrase, "the GSM network: "+ev.Reason)
				return
			}
		case r := <-c.sipIn:
			r.respond(481, "Call/Transaction Does Not Exist")
			close(r.done)
		case <-dlg.Context().Done():
			// CANCEL (sipgo answered it and the INVITE with 487)
			c.hangupGSM("the PBX cancelled")
			c.end(487, "the PBX cancelled")
			return
		case err := <-c.audioUp:
			c.hangupGSM("audio failed")
			fail(500, "Server Internal Error", "audio port: "+err.Error())
			return
		case <-timeout.C:
			c.hangupGSM("no answer")
			fail(480, "Temporarily Unavailable", "no answer within "+dialTimeout.String())
			return
		case <-c.v.ctx.Done():
			c.hangupGSM("gateway stopping")
			fail(503, "Service Unavailable", "gateway stopping")
			return
		}
	}
}
