package gateway

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// A callback call: the PBX's INVITE rings the page ("incoming"); the page
// answers with its offer, the box plans the bridge against the PBX's offer
// it holds, answers the browser, then the PBX (200, the box is the UAS),
// and the call runs as any other, with the box's BYE going out through the
// server dialog.

// runCallback rings the page with rg and runs the call to its end.
func (c *call) runCallback(ctx context.Context, rg *callbackRing, ice []ICEServer) {
	defer c.cleanup()
	defer rg.finish()
	dlg := rg.dlg
	defer dlg.Close()
	callID := ""
	if id := rg.req.CallID(); id != nil {
		callID = id.Value()
	}
	defer c.svc.callbacks.dropDialog(callID)
	from, display := "", ""
	if f := rg.req.From(); f != nil {
		u := f.Address
		u.UriParams, u.Headers = nil, nil
		from, display = u.String(), f.DisplayName
	}
	c.mu.Lock()
	c.info.Destination = from // who called the customer
	c.info.SIPCallID = callID
	c.info.PBX.Remote = rg.req.Source()
	c.mu.Unlock()
	c.setState(StateRinging)
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		c.end(0, "the PBX's INVITE went away: "+err.Error())
		return
	}
	c.log.Info("callback ringing", "sip_user", c.grant.SIPUser, "caller", from, "sip_call_id", callID)
	c.sig.send(Message{Type: MsgEvent, Event: EventIncoming, CallID: c.ID, From: from, Display: display, ICEServers: ice})
	if !c.ringCallback(ctx, rg) {
		return
	}
	c.svc.callbacks.addDialog(callID, dlg)
	c.svc.bindSIP(callID, c)
	if !c.answerCallback(rg) {
		return
	}
	c.talkCallback(ctx, dlg)
}

// ringCallback waits for the page's answer (its offer) and says whether
// the call goes on; on any other outcome the PBX has its final response
// and the page its ended event.
func (c *call) ringCallback(ctx context.Context, rg *callbackRing) bool {
	t := time.NewTimer(callbackRingTimeout)
	defer t.Stop()
	reject := func(code int, reason, why string) bool {
		c.end(code, why)
		refuseRing(rg, code, reason, why)
		return false
	}
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return reject(480, "Temporarily Unavailable", "the customer's page left while ringing")
			}
			switch m.Type {
			case MsgOffer:
				if err := c.takeOffer(m.SDP); err != nil {
					code := CodeBadSDP
					if errors.Is(err, errNoCodec) {
						code = CodeNoCodec
					}
					c.refuse(code, err.Error())
					return reject(488, "Not Acceptable Here", "the page's offer is not usable: "+err.Error())
				}
				return true
			case MsgCandidate:
				c.addCandidate(m.Candidate)
			case MsgHangup:
				return reject(603, "Decline", "the customer declined")
			default:
				c.refuse(CodeState, fmt.Sprintf("%q while ringing: answer with an offer or decline with hangup", m.Type))
			}
		case <-rg.dlg.Context().Done():
			c.end(487, "the caller hung up before the answer")
			rg.finish()
			return false
		case <-t.C:
			return reject(480, "Temporarily Unavailable", fmt.Sprintf("not answered within %d s", int(callbackRingTimeout/time.Second)))
		case why := <-c.hangup:
			return reject(480, "Temporarily Unavailable", why)
		case <-ctx.Done():
			return reject(503, "Service Unavailable", "gateway shutting down")
		}
	}
}

// answerCallback bridges the page's offer to the PBX's, answers the page,
// then the PBX, and waits for the PBX's ACK.
func (c *call) answerCallback(rg *callbackRing) bool {
	fail := func(code int, reason, why string) bool {
		c.refuse(CodeInternal, why)
		c.end(code, why)
		refuseRing(rg, code, reason, why)
		return false
	}
	// audio only for now: the answer to the PBX carries no video section
	c.videoOffer = nil
	// the bridge may pick only what the box bridges (gateway.media.codecs),
	// whatever else the PBX offered first
	narrowed := *c.offer.Audio
	narrowed.Codecs = c.pbxCodecs
	c.offer.Audio = &narrowed
	if !c.openLegs() { // it told the page and ended the call
		refuseRing(rg, 503, "Service Unavailable", "no media port")
		return false
	}
	if err := c.startMedia(rg.req.Body()); err != nil {
		return fail(488, "Not Acceptable Here", "the PBX's offer and the page's do not fit: "+err.Error())
	}
	res := sip.NewSDPResponseFromRequest(rg.dlg.InviteRequest, c.pbxSDP("sendrecv"))
	// the portal's context reaches the agent as X- headers, as on calls
	// the customer places
	keys := make([]string, 0, len(c.grant.Context))
	for k := range c.grant.Context {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		res.AppendHeader(sip.NewHeader(contextHeaderName(k), c.grant.Context[k]))
	}
	err := rg.dlg.WriteResponse(res) // returns once the PBX's ACK came
	rg.finish()
	if err != nil {
		if rg.dlg.Context().Err() != nil && rg.dlg.LoadState() < sip.DialogStateEstablished {
			c.end(487, "the caller hung up before the answer")
			return false
		}
		c.byeCallback(rg.dlg)
		c.end(408, "the PBX did not acknowledge the answer: "+err.Error())
		return false
	}
	c.answered = true
	c.setState(StateAnswered)
	c.event(EventAnswered, 200, "OK")
	return true
}

// talkCallback runs the answered callback until one side ends it.
func (c *call) talkCallback(ctx context.Context, dlg *sipgo.DialogServerSession) {
	hangUp := func(code int, why string) {
		c.byeCallback(dlg)
		c.end(code, why)
	}
	for {
		select {
		case m, ok := <-c.in:
			if why := c.fromClient(m, ok, "during the call"); why != "" {
				hangUp(200, why)
				return
			}
		case r := <-c.pbxIn:
			switch r.req.Method {
			case sip.BYE:
				if err := dlg.ReadBye(r.req, r.tx); err != nil {
					r.tx.Respond(sip.NewResponseFromRequest(r.req, 200, "OK", nil))
				}
				c.end(200, "agent hung up")
				return
			case sip.INVITE:
				c.onReinvite(r)
			default:
				res := sip.NewResponseFromRequest(r.req, 501, "Not Implemented", nil)
				res.AppendHeader(sip.NewHeader("Warning", `399 edgebox "a callback cannot be transferred"`))
				r.tx.Respond(res)
			}
		case why := <-c.hangup:
			hangUp(200, why)
			return
		case why := <-c.pcDown:
			hangUp(200, why)
			return
		case <-dlg.Context().Done():
			c.end(200, "dialog ended")
			return
		case <-ctx.Done():
			hangUp(503, "gateway shutting down")
			return
		}
	}
}

// byeCallback ends the callback's dialog from the box's side.
func (c *call) byeCallback(dlg *sipgo.DialogServerSession) {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		c.log.Debug("callback BYE", "err", err)
	}
}

// responseWithWarning is a final response to the callback's INVITE,
// saying why in a Warning header.
func responseWithWarning(dlg *sipgo.DialogServerSession, code int, reason, why string) *sip.Response {
	res := sip.NewResponseFromRequest(dlg.InviteRequest, code, reason, nil)
	if why != "" {
		res.AppendHeader(sip.NewHeader("Warning", `399 edgebox "`+sanitizeWarning(why)+`"`))
	}
	return res
}

// sanitizeWarning keeps a Warning's text inside its quotes.
func sanitizeWarning(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return '\''
		}
		return r
	}, s)
}
