package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// In-dialog requests: what the PBX sends within a call's dialog (BYE,
// re-INVITE, REFER) and the NOTIFYs of a transfer.

// pbxRequest is a request the PBX sent within a call's dialog.
type pbxRequest struct {
	req *sip.Request
	tx  sip.ServerTransaction
}

// fromPBX hands an in-dialog request to the call; if the call is ending
// it is answered here.
func (c *call) fromPBX(r pbxRequest) {
	select {
	case c.pbxIn <- r:
	case <-c.done:
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 481, "Call/Transaction Does Not Exist", nil))
	case <-time.After(2 * time.Second):
		// the call is busy (a transfer in progress): ask to retry
		res := sip.NewResponseFromRequest(r.req, 500, "Server Internal Error", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "1"))
		r.tx.Respond(res)
	}
}

// onPBXRequest handles BYE, re-INVITE and REFER from the PBX; it says
// whether the call ended (the agent hung up).
func (c *call) onPBXRequest(r pbxRequest) bool {
	switch r.req.Method {
	case sip.BYE:
		if why := byeTagMismatch(r.req, c.dialog); why != "" {
			// ended all the same: the PBX has let the call go, and a 481
			// would leave the customer on a line with nobody
			c.log.Warn("the PBX's BYE does not carry this call's dialog tags: the call ends all the same; check the PBX or an SBC between that rewrites tags", "mismatch", why)
		}
		answerBye(c.dialog, c.dialogSlim, r)
		c.end(200, "agent hung up")
		return true
	case sip.INVITE:
		c.onReinvite(r)
	case sip.REFER:
		c.onRefer(r)
	default:
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 405, "Method Not Allowed", nil))
	}
	return false
}

// onReinvite applies a new offer of the PBX: hold, resume, a new media
// address, or another of the codecs the box offered.
func (c *call) onReinvite(r pbxRequest) {
	respond := func(code int, reason string, body []byte) {
		res := sip.NewResponseFromRequest(r.req, code, reason, body)
		if body != nil {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
			// the current address: a target refresh if the uplink moved
			if _, ct, err := c.svc.sip.endpoint(c.cfg.PBX.Transport); err == nil {
				res.AppendHeader(&ct)
			}
		}
		if err := r.tx.Respond(res); err != nil {
			c.log.Debug("re-INVITE response", "err", err)
		}
	}
	if c.plan == nil {
		respond(491, "Request Pending", nil)
		return
	}
	if len(r.req.Body()) == 0 {
		// offerless re-INVITE: offer what we have
		respond(200, "OK", c.pbxSDP("sendrecv"))
		return
	}
	info, err := parsePBXSDP(string(r.req.Body()), c.cfg.PBX)
	if err != nil {
		respond(400, "Bad SDP", nil)
		return
	}
	// Keep the bridged codec if the PBX still offers it; otherwise switch
	// both legs to the first codec of the PBX's offer that the browser
	// offered too (renegotiating with the browser first).
	plan, err := planBridge(c.offer.Audio, keepCodec(info.Audio, c.plan.Browser))
	if err != nil || plan.Browser.PT != c.plan.Browser.PT {
		plan, err = planBridge(&mediaSection{Kind: "audio", Codecs: c.pbxCodecs}, info.Audio)
		if err == nil {
			err = c.switchCodec(plan)
		}
		if err != nil {
			c.log.Info("re-INVITE refused", "err", err)
			respond(488, "Not Acceptable Here", nil)
			return
		}
	}
	hold := plan.Hold
	dir := "sendrecv"
	switch info.Audio.Direction {
	case "sendonly":
		dir = "recvonly"
	case "inactive":
		dir = "inactive"
	case "recvonly":
		dir = "sendonly"
	}
	if plan.Remote.Addr().IsUnspecified() {
		// the old hold (RFC 2543 c=0.0.0.0, often with sendrecv): nothing
		// goes to the PBX until it names an address again
		if dir == "sendrecv" {
			dir = "recvonly"
		}
	} else {
		c.plan = plan
		c.pbx.apply(plan)
	}
	mute := dir == "recvonly" || dir == "inactive"
	c.pbx.send.setPaused(mute)
	if c.video != nil {
		c.video.leg.send.setPaused(mute)
	}
	respond(200, "OK", c.pbxSDP(dir))
	if hold != c.held {
		c.held = hold
		if hold {
			c.setState(StateHeld)
			c.event(EventHeld, 0, "")
		} else {
			c.setState(StateAnswered)
			c.event(EventResumed, 0, "")
		}
	}
}

// onRefer performs a blind transfer: the box calls the Refer-To target on
// the PBX with the same customer identity and context, moves the media to
// the new dialog and ends the old one.
func (c *call) onRefer(r pbxRequest) {
	target := r.req.GetHeader("Refer-To")
	if target == nil {
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 400, "Missing Refer-To", nil))
		return
	}
	var addr sip.Uri
	v := strings.TrimSpace(target.Value())
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	if k := strings.IndexByte(v, '?'); k >= 0 {
		v = v[:k] // no embedded headers (Replaces: attended transfer is not supported)
	}
	if err := sip.ParseUri(v, &addr); err != nil || addr.User == "" {
		r.tx.Respond(sip.NewResponseFromRequest(r.req, 400, "Bad Refer-To", nil))
		return
	}
	r.tx.Respond(sip.NewResponseFromRequest(r.req, 202, "Accepted", nil))
	c.event(EventTransfer, 202, addr.String())
	c.notifyRefer(100, "Trying")

	// New dialog toward the target with the same media offer.
	g := c.grant
	g.Destination = "sip:" + addr.User + "@" + addr.Host
	if addr.Port != 0 {
		g.Destination += fmt.Sprintf(":%d", addr.Port)
	}
	body := c.pbxSDP("sendrecv")
	req, dua, err := c.svc.sip.newInvite(g, c.cfg.PBX, body)
	if err != nil {
		c.notifyRefer(503, "Service Unavailable")
		return
	}
	if rb := r.req.GetHeader("Referred-By"); rb != nil {
		req.AppendHeader(sip.NewHeader("Referred-By", rb.Value()))
	}
	id := sip.CallIDHeader(sip.GenerateTagN(24))
	req.AppendHeader(&id)
	c.svc.bindSIP(id.Value(), c)
	// The call waits here for the transfer target: bounded tighter than a
	// first call so a hangup by the customer is not held up for long.
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	dlg, err := dua.WriteInvite(ctx, req)
	if err == nil {
		err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{Username: c.cfg.Trunk.Username, Password: c.cfg.Trunk.Password})
	}
	if err != nil {
		c.svc.unbindSIP(id.Value())
		code := 503
		var de *sipgo.ErrDialogResponse
		if errors.As(err, &de) {
			code = de.Res.StatusCode
		}
		c.notifyRefer(code, "Transfer failed")
		return
	}
	dlg.Ack(ctx)
	if info, err := parsePBXSDP(string(dlg.InviteResponse.Body()), c.cfg.PBX); err == nil {
		if plan, err := planBridge(c.offer.Audio, keepCodec(info.Audio, c.plan.Browser)); err == nil && plan.Browser.PT == c.plan.Browser.PT {
			c.plan = plan
			c.pbx.apply(plan)
		}
	}
	c.notifyRefer(200, "OK")
	old, oldSlim := c.dialog, c.dialogSlim
	oldID := old.InviteRequest.CallID().Value()
	c.keepDialog(dlg)
	c.mu.Lock()
	c.info.SIPCallID = id.Value()
	c.info.Destination = g.Destination
	c.mu.Unlock()
	bctx, bcancel := context.WithTimeout(context.Background(), byeTimeout)
	byeDialog(bctx, old, oldSlim)
	bcancel()
	c.svc.unbindSIP(oldID)
}

// notifyRefer reports transfer progress on the old dialog (RFC 3515).
func (c *call) notifyRefer(code int, reason string) {
	if c.dialog == nil {
		return
	}
	req := sip.NewRequest(sip.NOTIFY, c.dialog.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if code >= 200 {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", code, reason)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.dialog.Do(ctx, req); err != nil {
		c.log.Debug("NOTIFY refer", "err", err)
	}
}

// byeTagMismatch says how a BYE's tags differ from the call's dialog
// (the box's tag in To, the PBX's from its answer in From), or "".
func byeTagMismatch(bye *sip.Request, dlg *sipgo.DialogClientSession) string {
	if dlg == nil || dlg.InviteRequest == nil || dlg.InviteResponse == nil {
		return ""
	}
	tag := func(p sip.HeaderParams) string {
		if p == nil {
			return ""
		}
		v, _ := p.Get("tag")
		return v
	}
	var why []string
	if to, ours := bye.To(), dlg.InviteRequest.From(); to != nil && ours != nil && tag(to.Params) != tag(ours.Params) {
		why = append(why, fmt.Sprintf("To tag %q, the box's is %q", tag(to.Params), tag(ours.Params)))
	}
	if from, theirs := bye.From(), dlg.InviteResponse.To(); from != nil && theirs != nil && tag(from.Params) != tag(theirs.Params) {
		why = append(why, fmt.Sprintf("From tag %q, the PBX answered with %q", tag(from.Params), tag(theirs.Params)))
	}
	return strings.Join(why, "; ")
}
